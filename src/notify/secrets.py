"""Secrets at rest: API key secrets and team contacts are stored encrypted under NOTIFY_SECRET_KEY.

Fernet (AES-128-CBC + HMAC) from `cryptography`; the Fernet key is derived from the service's
secret with HKDF so any sufficiently long NOTIFY_SECRET_KEY works.

A Fernet token is randomised, so an encrypted column cannot be searched. Values that must be
found by equality (is this number on the service's team list?) also get a *lookup digest*: an
HMAC-SHA256 under a second key derived from NOTIFY_SECRET_KEY, which lives only in the
processes' memory. Without the key a digest cannot be brute-forced back to a phone number, the
way a plain hash can; each purpose gets its own digest, so equal values do not link across tables.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _random

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted: NOTIFY_SECRET_KEY changed since it was written."""


def _derive(secret_key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"notify-secret-box", info=info).derive(secret_key.encode())


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret_key, b"api-keys")))
        self._lookup_key = _derive(secret_key, b"lookup-digests")

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise SecretDecryptionError(
                "cannot decrypt a stored secret; was NOTIFY_SECRET_KEY changed?"
            ) from exc

    def lookup_digest(self, purpose: str, value: str) -> bytes:
        """Keyed HMAC-SHA256 of an already normalised ``value``, for finding its encrypted row."""
        return hmac.new(self._lookup_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()


def new_api_secret() -> str:
    """A secret in the 36-character shape the official clients slice out of the key string."""
    import uuid

    return str(uuid.UUID(bytes=_random.token_bytes(16), version=4))
