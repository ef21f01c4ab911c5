"""Authentication as the official clients do it, answered with Notify's 401/403 messages."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st

from notify.api.auth import VerifiedToken, VerifiedTokens, issued_at
from notify.app import create_app
from notify.catalogue.keys import revoke_api_key
from notify.catalogue.services import create_service, update_service
from notify.config import Settings
from notify.db.models import KeyType
from notify.runtime import Runtime
from tests.support.accounts import Account, create_account

CLOCK_MESSAGE = "Error: Your system clock must be accurate to within 30 seconds"


def _token(secret: str, iss: str, iat: float | None = None) -> dict[str, str]:
    claims = {"iss": iss, "iat": int(iat if iat is not None else time.time())}
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}


async def _auth_error(client: httpx.AsyncClient, headers: dict[str, str], status: int) -> str:
    response = await client.get("/v2/templates", headers=headers)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    assert body["errors"][0]["error"] == "AuthError"
    return str(body["errors"][0]["message"])


async def test_valid_token_is_accepted(client: httpx.AsyncClient, account: Account) -> None:
    assert (await client.get("/v2/templates", headers=account.headers())).status_code == 200


async def test_missing_and_malformed_headers(client: httpx.AsyncClient, account: Account) -> None:
    assert await _auth_error(client, {}, 401) == "Unauthorized: authentication token must be provided"
    assert (
        await _auth_error(client, {"Authorization": "Basic abc"}, 401)
        == "Unauthorized: authentication bearer scheme must be used"
    )
    assert (
        await _auth_error(client, {"Authorization": "Bearer not.a.jwt"}, 403)
        == "Invalid token: signature, api token is not valid"
    )


async def test_token_claims(client: httpx.AsyncClient, account: Account) -> None:
    secret = account.key()[-36:]
    no_iss = {"Authorization": "Bearer " + jwt.encode({"iat": int(time.time())}, secret, algorithm="HS256")}
    assert await _auth_error(client, no_iss, 403) == "Invalid token: iss field not provided"
    assert (
        await _auth_error(client, _token(secret, "not-a-uuid"), 403)
        == "Invalid token: service id is not the right data type"
    )
    assert await _auth_error(client, _token(secret, str(uuid.uuid4())), 403) == "Invalid token: API key not found"
    assert (
        await _auth_error(client, _token("0" * 36, str(account.service_id)), 403)
        == "Invalid token: API key not found"
    )


@pytest.mark.parametrize("skew", [-31, 31, -3600])
async def test_clock_skew_is_refused(client: httpx.AsyncClient, account: Account, skew: int) -> None:
    headers = _token(account.key()[-36:], str(account.service_id), time.time() + skew)
    assert await _auth_error(client, headers, 403) == "Error: Your system clock must be accurate to within 30 seconds"


async def test_small_clock_skew_is_tolerated(client: httpx.AsyncClient, account: Account) -> None:
    headers = _token(account.key()[-36:], str(account.service_id), time.time() - 25)
    assert (await client.get("/v2/templates", headers=headers)).status_code == 200


async def test_revoked_key(client: httpx.AsyncClient, account: Account, runtime: Runtime) -> None:
    async with runtime.engine.begin() as conn:
        await revoke_api_key(conn, account.service_id, account.keys[KeyType.normal].id)
    assert await _auth_error(client, account.headers(), 403) == "Invalid token: API key revoked"
    # The service's other keys keep working.
    assert (await client.get("/v2/templates", headers=account.headers(KeyType.test))).status_code == 200


async def test_secrets_are_encrypted_at_rest(account: Account, runtime: Runtime) -> None:
    from sqlalchemy import text

    async with runtime.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT secret_encrypted FROM api_keys"))).scalars().all()
    secrets = {key.key[-36:].encode() for key in account.keys.values()}
    assert stored and not any(secret in blob for blob in stored for secret in secrets)


def _raw_token(secret: str, claims: dict[str, object]) -> dict[str, str]:
    """Claims encoded as they arrive, NaN and Infinity included (JSON libraries write them)."""
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256", json_encoder=json.JSONEncoder)}


UNUSABLE_IATS: list[object] = [
    math.nan, math.inf, -math.inf, "now", True, False, [], {}, 10**400,
]


@pytest.mark.parametrize("iat", UNUSABLE_IATS, ids=lambda v: repr(v)[:12])
async def test_unusable_iat_is_refused_and_not_remembered(
    client: httpx.AsyncClient, account: Account, iat: object
) -> None:
    headers = _raw_token(account.key()[-36:], {"iss": str(account.service_id), "iat": iat})
    for _ in range(2):  # the second time would come from the verified-token cache
        assert await _auth_error(client, headers, 403) == CLOCK_MESSAGE


async def test_iat_as_a_string_of_digits_is_refused(client: httpx.AsyncClient, account: Account) -> None:
    headers = _raw_token(account.key()[-36:], {"iss": str(account.service_id), "iat": str(int(time.time()))})
    assert await _auth_error(client, headers, 403) == CLOCK_MESSAGE


async def test_missing_or_null_iat_is_named(client: httpx.AsyncClient, account: Account) -> None:
    for claims in ({"iss": str(account.service_id)}, {"iss": str(account.service_id), "iat": None}):
        headers = _raw_token(account.key()[-36:], claims)
        assert await _auth_error(client, headers, 403) == "Invalid token: iat field not provided"


async def test_finite_float_iat_is_accepted(client: httpx.AsyncClient, account: Account) -> None:
    headers = _raw_token(account.key()[-36:], {"iss": str(account.service_id), "iat": time.time() - 0.5})
    assert (await client.get("/v2/templates", headers=headers)).status_code == 200


@given(iat=st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=12), st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
))
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_any_iat_is_accepted_only_when_it_is_a_number_near_now(iat: object) -> None:
    """The verified-token cache must never hold a token the clock check would refuse."""
    tokens = VerifiedTokens(leeway=30)
    seconds = issued_at({"iat": iat})
    usable = isinstance(iat, int | float) and not isinstance(iat, bool) and math.isfinite(float(iat))
    assert (seconds is not None) == usable
    if seconds is not None:
        tokens.add("t", VerifiedToken(uuid.uuid4(), uuid.uuid4(), seconds))
        assert (tokens.get("t") is not None) == (abs(time.time() - seconds) <= 30)


def test_verified_tokens_refuse_nan_and_expire_by_wall_time() -> None:
    tokens = VerifiedTokens(leeway=0.3)
    tokens.add("nan", VerifiedToken(uuid.uuid4(), uuid.uuid4(), math.nan))
    assert tokens.get("nan") is None
    tokens.add("fresh", VerifiedToken(uuid.uuid4(), uuid.uuid4(), time.time()))
    assert tokens.get("fresh") is not None
    deadline = time.monotonic() + 5
    while tokens.get("fresh") is not None:
        assert time.monotonic() < deadline, "a verified token outlived the leeway"
        time.sleep(0.02)


@pytest.fixture
async def short_leeway_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    app = create_app(settings.model_copy(update={"jwt_leeway_seconds": 1}))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield c, app.state.runtime


async def test_a_verified_token_stops_working_once_older_than_the_leeway(
    short_leeway_client: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, runtime = short_leeway_client
    account = await create_account(runtime)
    issued = time.time()
    headers = _raw_token(account.key()[-36:], {"iss": str(account.service_id), "iat": issued})
    assert (await client.get("/v2/templates", headers=headers)).status_code == 200
    while (response := await client.get("/v2/templates", headers=headers)).status_code == 200:
        assert time.time() - issued < 5, "a cached token kept working past the leeway"
        await asyncio.sleep(0.05)
    assert response.status_code == 403
    assert response.json()["errors"][0]["message"] == "Error: Your system clock must be accurate to within 1 seconds"
    assert time.time() - issued > 1


async def test_service_ids_cannot_be_probed_without_a_signature(
    client: httpx.AsyncClient, account: Account, runtime: Runtime
) -> None:
    archived = await create_account(runtime)
    async with runtime.engine.begin() as conn:
        await update_service(conn, archived.service_id, active=False)
        keyless = await create_service(conn, name="No keys yet", restricted=False, message_limit=10, rate_limit=10)
    forged = "f" * 36
    answers = {
        name: await _auth_error(client, _token(forged, str(service_id)), 403)
        for name, service_id in (
            ("unknown", uuid.uuid4()), ("archived", archived.service_id), ("keyless", keyless.id),
            ("active", account.service_id),
        )
    }
    assert set(answers.values()) == {"Invalid token: API key not found"}, answers
    # Once the signature verifies, the key's holder is told why the service will not work.
    assert await _auth_error(client, archived.headers(), 403) == "Invalid token: service is archived"
