"""Reading secrets from 1Password through secret references (op://vault/item/field)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from rebrowse.automation.parameters import OnePasswordSecret
from rebrowse.errors import SecretUnavailable
from rebrowse.secrets.totp import totp_code
from rebrowse.version import __version__

# These characters would change the meaning of a reference (path separator, query, fragment).
_RESERVED = ("/", "?", "#")


class SecretReferenceResolver(Protocol):
    """Something that turns a 1Password secret reference into the secret's value."""

    async def resolve(self, reference: str) -> str:
        """The value the reference points to; raises SecretUnavailable when it cannot be read."""
        ...


class OnePasswordResolver:
    """Resolves references with the official 1Password SDK, authenticating a service account on first use."""

    def __init__(self, service_account_token: str) -> None:
        self._token = service_account_token
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def resolve(self, reference: str) -> str:
        """The value the reference points to."""
        client = await self._authenticated_client()
        try:
            value = await client.secrets.resolve(reference)
        except Exception as error:  # the SDK raises plain Exceptions for every failure
            raise SecretUnavailable(f"1Password reference {reference}: {self._safe_text(error)}") from None
        return str(value)

    async def _authenticated_client(self) -> Any:
        async with self._lock:
            if self._client is None:
                self._client = await self._authenticate()
            return self._client

    async def _authenticate(self) -> Any:
        # Imported here: the SDK loads a native library, which only runs that use 1Password should pay for.
        from onepassword import Client

        try:
            return await Client.authenticate(
                auth=self._token, integration_name="rebrowse", integration_version=__version__
            )
        except Exception as error:
            raise SecretUnavailable(f"1Password: authentication failed: {self._safe_text(error)}") from None

    def _safe_text(self, error: Exception) -> str:
        """The SDK's message, with the service account token removed should it ever appear there."""
        return (str(error) or type(error).__name__).replace(self._token, "***")


def onepassword_reference(secret: OnePasswordSecret) -> str:
    """The op://vault/item/field reference for a secure parameter."""
    parts = (secret.vault_name, secret.item_name, secret.field_name)
    for part in parts:
        if not part or any(char in part for char in _RESERVED):
            raise SecretUnavailable(
                f"1Password: {part!r} cannot be used in a secret reference (empty, or contains / ? #); "
                "use the vault, item or field ID instead"
            )
    return "op://" + "/".join(parts)


def onepassword_secret_value(secret: OnePasswordSecret, field_value: str) -> str:
    """The value a secure parameter asks for: the field itself, or a TOTP code from the seed it holds."""
    if secret.type == "totp_secret":
        assert secret.digits is not None  # the model requires digits for totp_secret
        source = f"1Password reference {onepassword_reference(secret)}"
        return totp_code(field_value, secret.digits, source=source)
    return field_value
