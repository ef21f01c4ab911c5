"""Sending SMS through POST /v2/notifications/sms and reading it back."""

from __future__ import annotations

import asyncio

import httpx

from notify.runtime import Runtime
from notify.sending.providers.simulated import SimulatedProvider
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sending import SMS_PERSONALISATION


async def test_send_sms_returns_201_and_reads_back_with_recipient(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit, provider: SimulatedProvider
) -> None:
    pii_audit.track("(202) 555-0143")
    pii_audit.track_personalisation("Wilhelmina", "Thursday 4th")
    response = await client.post(
        "/v2/notifications/sms",
        json={
            "phone_number": "(202) 555-0143",
            "template_id": str(account.sms_template_id),
            "personalisation": {"name": "Wilhelmina", "day": "Thursday 4th"},
            "reference": "case-42",
        },
        headers=account.headers(),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content"] == {"body": "Hi Wilhelmina, your appointment is on Thursday 4th.", "from_number": "Agency"}
    assert body["reference"] == "case-42"
    assert body["template"]["id"] == str(account.sms_template_id)
    assert body["template"]["version"] == 1
    assert body["uri"].endswith(f"/v2/notifications/{body['id']}")

    fetched = await wait_for_status(client, account, body["id"], "delivered")
    assert fetched["phone_number"] == "+12025550143"
    assert fetched["email_address"] is None
    assert fetched["type"] == "sms"
    assert fetched["body"] == "Hi Wilhelmina, your appointment is on Thursday 4th."
    assert fetched["reference"] == "case-42"
    assert fetched["sent_at"] and fetched["completed_at"]
    assert [m.to for m in provider.sent] == ["+12025550143"]


async def test_concurrent_sends_share_batch_objects(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    numbers = [f"+1202555{n:04d}" for n in range(150, 190)]
    pii_audit.track(*numbers)

    async def send(number: str) -> dict:
        r = await client.post(
            "/v2/notifications/sms",
            json={"phone_number": number, "template_id": str(account.sms_template_id),
                  "personalisation": SMS_PERSONALISATION},
            headers=account.headers(),
        )
        assert r.status_code == 201, r.text
        return r.json()

    sent = await asyncio.gather(*(send(n) for n in numbers))
    objects = [info async for info in runtime.store.list("uploads/")]
    assert 1 <= len(objects) < len(numbers), "concurrent requests should be group-committed"
    # Every notification reads back its own recipient through (job, row).
    for number, result in zip(numbers, sent, strict=True):
        got = (await client.get(f"/v2/notifications/{result['id']}", headers=account.headers())).json()
        assert got["phone_number"] == number
