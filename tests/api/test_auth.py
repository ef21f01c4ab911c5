"""Authentication as the official clients do it, answered with Notify's 401/403 messages."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest

from notify.catalogue.keys import revoke_api_key
from notify.db.models import KeyType
from notify.runtime import Runtime
from tests.support.accounts import Account


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
    assert await _auth_error(client, _token(secret, str(uuid.uuid4())), 403) == "Invalid token: service not found"
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
