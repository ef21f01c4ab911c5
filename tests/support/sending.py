"""Sending through the real v2 API in tests, and waiting until the worker has recorded the sends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.accounts import Account

# The personalisation tests send by default: distinctive values of 6+ characters, so the PII audit
# searches for them (shorter ones would match innocent text); the pii_audit fixture tracks them all.
SMS_PERSONALISATION = {"name": "Adaeze Marchetti", "day": "Friday 9th"}
EMAIL_PERSONALISATION = {"name": "Kimberley Ashdown", "case": "CASE-7731"}


async def send(client: httpx.AsyncClient, account: Account, recipient: str, *, reference: str | None = None) -> str:
    """One SMS, or one email when the recipient has an '@'; returns the notification id."""
    body: dict[str, Any]
    if "@" in recipient:
        path = "/v2/notifications/email"
        body = {"email_address": recipient, "template_id": str(account.email_template_id),
                "personalisation": EMAIL_PERSONALISATION}
    else:
        path = "/v2/notifications/sms"
        body = {"phone_number": recipient, "template_id": str(account.sms_template_id),
                "personalisation": SMS_PERSONALISATION}
    if reference is not None:
        body["reference"] = reference
    response = await client.post(path, json=body, headers=account.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def send_sms(client: httpx.AsyncClient, account: Account, numbers: Iterable[str]) -> list[str]:
    """Send to each number in turn; the notification ids, in order."""
    return [await send(client, account, number) for number in numbers]


async def recorded_references(engine: AsyncEngine, ids: Sequence[str], timeout: float = 15.0) -> list[str]:
    """Wait until each send is recorded with its provider reference ('sending' shows at claim time)."""
    deadline = time.monotonic() + timeout
    while True:
        async with engine.connect() as conn:
            rows = dict((await conn.execute(
                text("SELECT id::text, provider_reference FROM notifications WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": list(ids)},
            )).all())
        if all(rows.get(i) for i in ids):
            return [rows[i] for i in ids]
        assert time.monotonic() < deadline, "the worker never recorded every send"
        await asyncio.sleep(0.05)
