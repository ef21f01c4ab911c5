"""API authentication exactly as the official Notify clients do it.

The client sends ``Authorization: Bearer <JWT>`` where the token is HS256-signed with the API
key's secret, ``iss`` is the service id and ``iat`` is the client's clock.  We try the token
against each of the service's keys, as GOV.UK Notify does, and answer 401/403 with its messages.

Decrypted key secrets are cached per process for a few seconds (settings.auth_cache_seconds):
they are not recipient data, and the cache keeps key decryption off the hot path.  Revoking a key
takes effect in other processes within that time.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt
from fastapi import Request
from sqlalchemy import text

from notify.api.errors import ApiError
from notify.db.models import KeyType
from notify.runtime import Runtime


@dataclass(frozen=True, slots=True)
class ServiceKey:
    id: uuid.UUID
    key_type: KeyType
    secret: str
    revoked: bool


@dataclass(frozen=True, slots=True)
class AuthenticatedService:
    id: uuid.UUID
    name: str
    active: bool
    restricted: bool
    message_limit: int
    rate_limit: int
    international_sms: bool
    data_retention_days: int
    keys: tuple[ServiceKey, ...]


@dataclass(frozen=True, slots=True)
class Caller:
    service: AuthenticatedService
    api_key_id: uuid.UUID
    key_type: KeyType


def _auth_error(status: int, message: str) -> ApiError:
    return ApiError(status, "AuthError", message)


class ServiceAuthCache:
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[uuid.UUID, tuple[float, AuthenticatedService | None]] = {}

    def get(self, service_id: uuid.UUID) -> tuple[bool, AuthenticatedService | None]:
        entry = self._entries.get(service_id)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, service_id: uuid.UUID, service: AuthenticatedService | None) -> None:
        if self._ttl > 0:
            self._entries[service_id] = (time.monotonic() + self._ttl, service)

    def invalidate(self, service_id: uuid.UUID) -> None:
        self._entries.pop(service_id, None)


async def load_service(runtime: Runtime, service_id: uuid.UUID) -> AuthenticatedService | None:
    async with runtime.engine.connect() as conn:
        service = (
            await conn.execute(
                text(
                    "SELECT id, name, active, restricted, message_limit, rate_limit, international_sms, "
                    "data_retention_days FROM services WHERE id = :id"
                ),
                {"id": service_id},
            )
        ).one_or_none()
        if service is None:
            return None
        keys = (
            await conn.execute(
                text("SELECT id, key_type, secret_encrypted, revoked_at FROM api_keys WHERE service_id = :id"),
                {"id": service_id},
            )
        ).all()
    return AuthenticatedService(
        *service,
        keys=tuple(
            ServiceKey(k.id, KeyType(k.key_type), runtime.secrets.decrypt(k.secret_encrypted), k.revoked_at is not None)
            for k in keys
        ),
    )


async def authenticate(request: Request) -> Caller:
    runtime: Runtime = request.app.state.runtime
    header = request.headers.get("authorization")
    if not header:
        raise _auth_error(401, "Unauthorized: authentication token must be provided")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _auth_error(401, "Unauthorized: authentication bearer scheme must be used")
    token = token.strip()
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _auth_error(403, "Invalid token: signature, api token is not valid") from exc
    issuer = unverified.get("iss")
    if not issuer:
        raise _auth_error(403, "Invalid token: iss field not provided")
    try:
        service_id = uuid.UUID(str(issuer))
    except ValueError as exc:
        raise _auth_error(403, "Invalid token: service id is not the right data type") from exc

    cache: ServiceAuthCache = request.app.state.auth_cache
    hit, service = cache.get(service_id)
    if not hit:
        service = await load_service(runtime, service_id)
        cache.put(service_id, service)
    if service is None:
        raise _auth_error(403, "Invalid token: service not found")
    if not service.keys:
        raise _auth_error(403, "Invalid token: service has no API keys")
    if not service.active:
        raise _auth_error(403, "Invalid token: service is archived")

    for key in service.keys:
        try:
            claims = jwt.decode(
                token, key.secret, algorithms=["HS256"], options={"require": ["iss", "iat"], "verify_iat": False}
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise _auth_error(403, "Invalid token: signature, api token is not valid") from exc
        if key.revoked:
            raise _auth_error(403, "Invalid token: API key revoked")
        leeway = runtime.settings.jwt_leeway_seconds
        try:
            issued = float(claims["iat"])
        except (TypeError, ValueError) as exc:
            raise _auth_error(403, "Invalid token: signature, api token is not valid") from exc
        if abs(time.time() - issued) > leeway:
            raise _auth_error(403, f"Error: Your system clock must be accurate to within {leeway} seconds")
        request.state.service_id = service.id
        return Caller(service=service, api_key_id=key.id, key_type=key.key_type)
    raise _auth_error(403, "Invalid token: API key not found")
