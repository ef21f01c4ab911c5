"""API keys: the secret is shown once, as the key string, and stored only encrypted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.db.models import KeyType
from notify.secrets import SecretBox, new_api_secret


class ApiKeyNotFound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class NewApiKey:
    id: uuid.UUID
    name: str
    key_type: KeyType
    key: str  # {name}-{service_id}-{secret}: the string the official clients take


def key_string(name: str, service_id: uuid.UUID, secret: str) -> str:
    return f"{name}-{service_id}-{secret}"


async def create_api_key(
    conn: AsyncConnection, box: SecretBox, service_id: uuid.UUID, *, name: str, key_type: KeyType
) -> NewApiKey:
    secret = new_api_secret()
    key_id = uuid.uuid4()
    await conn.execute(
        text(
            "INSERT INTO api_keys (id, service_id, name, key_type, secret_encrypted) VALUES (:id, :s, :n, :t, :secret)"
        ),
        {"id": key_id, "s": service_id, "n": name, "t": key_type.value, "secret": box.encrypt(secret)},
    )
    slug = "_".join(name.lower().split()) or "key"
    return NewApiKey(key_id, name, key_type, key_string(slug, service_id, secret))


async def revoke_api_key(conn: AsyncConnection, service_id: uuid.UUID, key_id: uuid.UUID) -> None:
    result = await conn.execute(
        text("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = :id AND service_id = :s"),
        {"id": key_id, "s": service_id},
    )
    if result.rowcount == 0:
        raise ApiKeyNotFound(key_id)
