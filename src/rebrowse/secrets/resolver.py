"""Resolving secure parameters for one run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rebrowse.automation.parameters import AwsSecret, OnePasswordSecret, SecureParameter
from rebrowse.errors import SecretUnavailable
from rebrowse.secrets.aws import aws_secret_field, aws_secret_value, fetch_aws_secret_string
from rebrowse.secrets.onepassword import (
    SecretReferenceResolver,
    onepassword_reference,
    onepassword_secret_value,
)
from rebrowse.secrets.redaction import Redactor
from rebrowse.secrets.totp import totp_code


class SecretResolver:
    """Resolves secure parameters for one run; every value it sees or returns is registered in `redactor`.

    Fetched secrets are kept for the resolver's life (one run), so a secret is fetched once even though
    nodes resolve their parameters again; TOTP codes are generated afresh on every call.
    """

    def __init__(
        self, *, aws_endpoint_url: str | None = None, onepassword: SecretReferenceResolver | None = None
    ) -> None:
        self.redactor = Redactor()
        self._aws_endpoint_url = aws_endpoint_url
        self._onepassword = onepassword
        self._fetched: dict[tuple[str, ...], str] = {}

    async def resolve(self, param: SecureParameter) -> str:
        """The value of one secure parameter (a current code for TOTP sources)."""
        value = await self._value(param)
        self.redactor.add(value)
        return value

    async def _value(self, param: SecureParameter) -> str:
        if param.totp is not None:
            # The seed sits in the automation in clear; it must not reach logs either.
            self.redactor.add(param.totp.totp_secret)
            return totp_code(param.totp.totp_secret, param.totp.digits, source="totp parameter")
        if param.amazon_secrets_manager is not None:
            return await self._aws_value(param.amazon_secrets_manager)
        assert param.onepassword is not None  # the model requires exactly one source
        return await self._onepassword_value(param.onepassword)

    async def _aws_value(self, secret: AwsSecret) -> str:
        secret_string = await self._fetch(
            ("aws", secret.region_name, secret.secret_name),
            lambda: fetch_aws_secret_string(secret.secret_name, secret.region_name, self._aws_endpoint_url),
        )
        field = aws_secret_field(secret, secret_string)
        # The field may be a TOTP seed, which the code returned below does not reveal to the redactor.
        self.redactor.add(field)
        return aws_secret_value(secret, field)

    async def _onepassword_value(self, secret: OnePasswordSecret) -> str:
        reference = onepassword_reference(secret)
        onepassword = self._onepassword
        if onepassword is None:
            raise SecretUnavailable(
                f"1Password reference {reference}: 1Password is not configured (set OP_SERVICE_ACCOUNT_TOKEN)"
            )
        field_value = await self._fetch(("1password", reference), lambda: onepassword.resolve(reference))
        return onepassword_secret_value(secret, field_value)

    async def _fetch(self, key: tuple[str, ...], fetch: Callable[[], Awaitable[str]]) -> str:
        """A fetched secret from the cache, fetching (and registering it for redaction) on first use."""
        if key not in self._fetched:
            value = await fetch()
            # The whole fetched secret (a JSON document, a TOTP seed) is as sensitive as the part used.
            self.redactor.add(value)
            self._fetched[key] = value
        return self._fetched[key]
