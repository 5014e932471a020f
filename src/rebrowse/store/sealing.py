"""Sealing secrets at rest: secure parameters, callback keys and signing secrets are stored encrypted."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from rebrowse.errors import RebrowseError


class SealingError(RebrowseError):
    """A sealed value could not be opened: the server's secret key is not the one it was sealed with."""


class Sealer:
    """Encrypts and decrypts small values with the deployment's secret key (Fernet: AES-128-CBC + HMAC)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._fernet = Fernet(key)

    def derive(self, purpose: str) -> bytes:
        """A secret for one purpose, computed from the deployment's key by every process that holds it."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()

    def seal(self, value: bytes) -> bytes:
        return self._fernet.encrypt(value)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise SealingError() from None

    def seal_json(self, value: Any) -> bytes:
        return self.seal(json.dumps(value).encode())

    def open_json(self, sealed: bytes) -> Any:
        return json.loads(self.open(sealed))


def generate_key() -> bytes:
    """A new random secret key."""
    return Fernet.generate_key()


def key_from_file(path: Path) -> bytes:
    """The secret key kept in `path`, created (readable by the owner only) when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(generate_key())
    return path.read_bytes().strip()
