"""Daily and rate limits answer 429, count only live and team keys, and hold across API processes."""

from __future__ import annotations

import asyncio

import httpx

from notify.app import create_app
from notify.config import Settings
from notify.db.models import KeyType
from notify.runtime import Runtime
from tests.support.accounts import Account, create_account
from tests.support.pii_audit import PiiAudit
from tests.support.sending import SMS_PERSONALISATION

NUMBER = "+12025550143"


async def _sms(client: httpx.AsyncClient, account: Account, key: KeyType = KeyType.normal) -> httpx.Response:
    return await client.post(
        "/v2/notifications/sms",
        json={"phone_number": NUMBER, "template_id": str(account.sms_template_id),
              "personalisation": SMS_PERSONALISATION},
        headers=account.headers(key),
    )


async def test_daily_limit(client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit) -> None:
    pii_audit.track(NUMBER)
    account = await create_account(runtime, message_limit=3)
    assert [(await _sms(client, account)).status_code for _ in range(3)] == [201, 201, 201]
    refused = await _sms(client, account)
    assert refused.status_code == 429
    assert refused.json() == {
        "status_code": 429,
        "errors": [{"error": "TooManyRequestsError", "message": "Exceeded send limits (3) for today"}],
    }
    # Test keys do not use the allowance.
    assert (await _sms(client, account, KeyType.test)).status_code == 201


async def test_rate_limit(client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit) -> None:
    pii_audit.track(NUMBER)
    account = await create_account(runtime, rate_limit=2)
    assert [(await _sms(client, account)).status_code for _ in range(2)] == [201, 201]
    refused = await _sms(client, account)
    assert refused.status_code == 429
    assert refused.json()["errors"] == [
        {"error": "RateLimitError", "message": "Exceeded rate limit for key type NORMAL of 2 requests per 60 seconds"}
    ]


async def test_limits_hold_across_api_processes(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, pii_audit: PiiAudit
) -> None:
    """Two apps, each with its own group committer and pool, share one allowance through PostgreSQL."""
    pii_audit.track(NUMBER)
    account = await create_account(runtime, message_limit=25)
    other_app = create_app(settings)
    async with other_app.router.lifespan_context(other_app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other_app), base_url="http://other") as other:
            results = await asyncio.gather(*(_sms(c, account) for c in [client, other] * 20))
    codes = [r.status_code for r in results]
    assert codes.count(201) == 25
    assert codes.count(429) == 15
