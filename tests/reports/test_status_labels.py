"""The Status column says what a team can act on: the channel's wording, or the carrier's reason."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from notify.receipts.apply import Receipt, apply_receipts
from notify.runtime import Runtime
from notify.sending.providers.base import EmailMessage, SendResult, SmsMessage
from notify.statuses import Status
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sending import SMS_PERSONALISATION


@dataclass
class CarrierProvider:
    """Like a real SMS provider: it accepts a message and learns the outcome later, from a receipt."""

    name: str = "carrier"
    references: dict[str, str] = field(default_factory=dict)  # our notification id -> provider reference

    async def send_sms(self, message: SmsMessage) -> SendResult:
        return self._accept(message.reference)

    async def send_email(self, message: EmailMessage) -> SendResult:
        return self._accept(message.reference)

    def _accept(self, notification_id: str) -> SendResult:
        reference = f"carrier-{uuid.uuid4()}"
        self.references[notification_id] = reference
        return SendResult(provider_reference=reference)


@pytest.fixture
def provider() -> CarrierProvider:
    return CarrierProvider()


async def _send(client: httpx.AsyncClient, account: Account, number: str, reference: str) -> str:
    response = await client.post(
        "/v2/notifications/sms",
        json={"phone_number": number, "template_id": str(account.sms_template_id),
              "personalisation": SMS_PERSONALISATION, "reference": reference},
        headers=account.headers(),
    )
    assert response.status_code == 201, response.text
    notification_id = str(response.json()["id"])
    await wait_for_status(client, account, notification_id, "sending")
    return notification_id


async def test_failed_sms_shows_the_carriers_reason_or_the_channels_wording(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, provider: CarrierProvider, pii_audit: PiiAudit
) -> None:
    pii_audit.track("+12025550361", "+12025550362", "+12025550363")
    blocked = await _send(client, account, "+12025550361", "blocked")
    unknown = await _send(client, account, "+12025550362", "unknown")
    busy = await _send(client, account, "+12025550363", "busy")
    async with runtime.engine.begin() as conn:
        await apply_receipts(conn, [
            Receipt(provider.references[blocked], Status.permanent_failure, "AT&T",
                    "Phone carrier has blocked this message"),
            Receipt(provider.references[unknown], Status.permanent_failure, "AT&T",
                    "Something the carrier never said before"),
            Receipt(provider.references[busy], Status.temporary_failure, "Verizon Wireless"),
        ])

    response = await client.get("/v2/reports/notifications.csv?days=1", headers=account.headers())
    assert response.status_code == 200, response.text
    rows = {r["Client Reference"]: r for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert rows["blocked"]["Status"] == "Carrier rejected"
    assert rows["blocked"]["Carrier Response"] == "Phone carrier has blocked this message"
    assert rows["blocked"]["Carrier"] == "AT&T"
    assert rows["unknown"]["Status"] == "Phone number doesn't exist"
    assert rows["busy"]["Status"] == "Phone not accepting messages right now"
