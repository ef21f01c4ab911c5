"""API authentication exactly as the official Notify clients do it.

The client sends ``Authorization: Bearer <JWT>`` where the token is HS256-signed with the API
key's secret, ``iss`` is the service id and ``iat`` is the client's clock.  We try the token
against each of the service's keys, as GOV.UK Notify does, and answer 401/403 with its messages,
with one difference: until a signature verifies, unknown, archived and keyless services all get
the wrong-key answer, so service ids cannot be probed with unsigned tokens.

Decrypted key secrets are cached per process for a few seconds (settings.catalogue_cache_seconds,
see notify.catalogue.cache): they are not recipient data, and the cache keeps key decryption off
the hot path.  Revoking a key takes effect in other processes within that time; while the
database cannot be reached, cached keys are trusted for at most settings.catalogue_max_stale_seconds
longer, and then requests get 503 (notify.catalogue.cache.CatalogueUnavailable).
"""

from __future__ import annotations

import math
import secrets
import time
import uuid
from dataclasses import dataclass, fields

import jwt
from fastapi import Request
from sqlalchemy import text

from notify.api.errors import ApiError
from notify.catalogue.services import ServiceNotFound, ServiceRecord, get_service
from notify.db.models import KeyType
from notify.runtime import Runtime


@dataclass(frozen=True, slots=True)
class ServiceKey:
    id: uuid.UUID
    key_type: KeyType
    secret: str
    revoked: bool


@dataclass(frozen=True, slots=True)
class AuthenticatedService(ServiceRecord):
    keys: tuple[ServiceKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Caller:
    service: AuthenticatedService
    api_key_id: uuid.UUID
    key_type: KeyType


def _auth_error(status: int, message: str) -> ApiError:
    return ApiError(status, "AuthError", message)


async def load_service(runtime: Runtime, service_id: uuid.UUID) -> AuthenticatedService | None:
    async with runtime.engine.connect() as conn:
        try:
            service = await get_service(conn, service_id)
        except ServiceNotFound:
            return None
        keys = (
            await conn.execute(
                text("SELECT id, key_type, secret_encrypted, revoked_at FROM api_keys WHERE service_id = :id"),
                {"id": service_id},
            )
        ).all()
    return AuthenticatedService(
        **{f.name: getattr(service, f.name) for f in fields(ServiceRecord)},
        keys=tuple(
            ServiceKey(k.id, KeyType(k.key_type), runtime.secrets.decrypt(k.secret_encrypted), k.revoked_at is not None)
            for k in keys
        ),
    )


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    service_id: uuid.UUID
    key_id: uuid.UUID
    issued_at: float


def issued_at(claims: dict[str, object]) -> float | None:
    """The token's ``iat`` as seconds, or None when it is not a finite number.

    The official clients send whole seconds; finite floats are accepted too (other JWT libraries
    write them). NaN, infinities, strings, booleans and null are refused: NaN compares false with
    everything, so it would pass any clock check written as "too far off?" and stay valid for ever.
    """
    value = claims.get("iat")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return seconds if math.isfinite(seconds) else None


def within_leeway(issued: float, leeway: float, now: float) -> bool:
    """Written as "close enough?" so that anything not comparable (NaN) fails closed."""
    return abs(now - issued) <= leeway


class VerifiedTokens:
    """Tokens whose signature already checked out, for the leeway window.

    The official clients put ``iat`` in whole seconds, so a busy client sends the same token many
    times a second; remembering that its signature matched key K saves the HMAC and JSON work.
    Revocation and clock checks still run on every request.
    """

    def __init__(self, leeway: float, max_entries: int = 50_000) -> None:
        self._leeway = leeway
        self._max_entries = max_entries
        self._entries: dict[str, VerifiedToken] = {}

    def get(self, token: str) -> VerifiedToken | None:
        """The token's earlier verification while its ``iat`` is within the leeway of the wall clock."""
        found = self._entries.get(token)
        if found is not None and not within_leeway(found.issued_at, self._leeway, time.time()):
            del self._entries[token]
            return None
        return found

    def add(self, token: str, verified: VerifiedToken) -> None:
        now = time.time()
        if not within_leeway(verified.issued_at, self._leeway, now):
            return  # never remember what the clock check would refuse
        if len(self._entries) >= self._max_entries:
            self._entries = {t: v for t, v in self._entries.items() if within_leeway(v.issued_at, self._leeway, now)}
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
        self._entries[token] = verified


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise _auth_error(401, "Unauthorized: authentication token must be provided")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _auth_error(401, "Unauthorized: authentication bearer scheme must be used")
    return token.strip()


# Until a signature verifies, an unknown, archived or keyless service gets the answer a wrong key
# gets, so unsigned tokens cannot tell which service ids exist (GOV.UK names each case).
_NO_MATCHING_KEY = "Invalid token: API key not found"
# Verified against when a service has no keys, so that path costs an HMAC like the others.
_DECOY_SECRET = secrets.token_urlsafe(32)


async def _service(runtime: Runtime, service_id: uuid.UUID) -> AuthenticatedService | None:
    return await runtime.caches.services.get_or_load(  # type: ignore[no-any-return]
        service_id, lambda: load_service(runtime, service_id)
    )


def _clock_error(runtime: Runtime) -> ApiError:
    """GOV.UK's answer to an ``iat`` too far off, and (as its client library decides) to an unusable one."""
    return _auth_error(
        403, f"Error: Your system clock must be accurate to within {runtime.settings.jwt_leeway_seconds} seconds"
    )


def _caller(runtime: Runtime, service: AuthenticatedService, key: ServiceKey, issued: float) -> Caller:
    """Checks that need a verified signature: only its holder may learn what they say."""
    if not service.active:
        raise _auth_error(403, "Invalid token: service is archived")
    if key.revoked:
        raise _auth_error(403, "Invalid token: API key revoked")
    if not within_leeway(issued, runtime.settings.jwt_leeway_seconds, time.time()):
        raise _clock_error(runtime)
    return Caller(service=service, api_key_id=key.id, key_type=key.key_type)


def _claims(token: str, secret: str) -> dict[str, object] | None:
    """The token's claims if it is signed with ``secret``; None if it is signed with another key."""
    try:
        return jwt.decode(  # type: ignore[no-any-return]
            token, secret, algorithms=["HS256"], options={"require": ["iss", "iat"], "verify_iat": False}
        )
    except jwt.InvalidSignatureError:
        return None
    except jwt.MissingRequiredClaimError as exc:
        if exc.claim == "iat":
            raise _auth_error(403, "Invalid token: iat field not provided") from exc
        raise _auth_error(403, "Invalid token: signature, api token is not valid") from exc
    except jwt.PyJWTError as exc:
        raise _auth_error(403, "Invalid token: signature, api token is not valid") from exc


async def authenticate(request: Request) -> Caller:
    runtime: Runtime = request.app.state.runtime
    token = _bearer_token(request)
    verified_tokens: VerifiedTokens = request.app.state.verified_tokens
    known = verified_tokens.get(token)
    if known is not None:
        service = await _service(runtime, known.service_id)
        for key in service.keys if service is not None else ():
            if key.id == known.key_id:
                return _caller(runtime, service, key, known.issued_at)  # type: ignore[arg-type]

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
    service = await _service(runtime, service_id)

    if service is None or not service.keys:
        _claims(token, _DECOY_SECRET)
        raise _auth_error(403, _NO_MATCHING_KEY)
    for key in service.keys:
        claims = _claims(token, key.secret)
        if claims is None:
            continue
        issued = issued_at(claims)
        if issued is None:
            raise _clock_error(runtime)
        caller = _caller(runtime, service, key, issued)
        verified_tokens.add(token, VerifiedToken(service.id, key.id, issued))
        return caller
    raise _auth_error(403, _NO_MATCHING_KEY)
