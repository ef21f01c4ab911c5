"""Secrets at rest: API key secrets are stored encrypted under NOTIFY_SECRET_KEY.

Fernet (AES-128-CBC + HMAC) from `cryptography`; the Fernet key is derived from the service's
secret with HKDF so any sufficiently long NOTIFY_SECRET_KEY works.
"""

from __future__ import annotations

import base64
import secrets as _random

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted: NOTIFY_SECRET_KEY changed since it was written."""


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"notify-secret-box", info=b"api-keys").derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise SecretDecryptionError(
                "cannot decrypt a stored API key secret; was NOTIFY_SECRET_KEY changed?"
            ) from exc


def new_api_secret() -> str:
    """A secret in the 36-character shape the official clients slice out of the key string."""
    import uuid

    return str(uuid.UUID(bytes=_random.token_bytes(16), version=4))
