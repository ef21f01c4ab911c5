"""A receipt that reaches us before its send is recorded is parked, then applied with the record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.receipts.apply import Receipt, apply_receipts
from notify.runtime import Runtime
from notify.sending.providers.base import EmailMessage, SendResult, SmsMessage
from notify.statuses import Status
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sending import send_sms


@dataclass
class _EagerProvider:
    """A provider whose receipt reaches us before the send is recorded, as real ones often do."""

    engine: AsyncEngine | None = None
    name: str = "eager"
    references: list[str] = field(default_factory=list)

    async def send_sms(self, message: SmsMessage) -> SendResult:
        reference = f"eager-{uuid.uuid4()}"
        assert self.engine is not None
        async with self.engine.begin() as conn:  # another connection: our record is not committed yet
            applied = await apply_receipts(conn, [Receipt(reference, Status.delivered, "Verizon")])
        assert applied.parked == 1
        self.references.append(reference)
        return SendResult(provider_reference=reference)

    async def send_email(self, message: EmailMessage) -> SendResult:
        raise NotImplementedError


@pytest.fixture
def provider() -> _EagerProvider:  # type: ignore[override]
    return _EagerProvider()


async def test_a_receipt_that_arrives_before_the_send_is_recorded_is_parked_then_applied(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, provider: _EagerProvider, pii_audit: PiiAudit
) -> None:
    provider.engine = runtime.engine
    numbers = [f"+1202555{n:04d}" for n in range(191, 196)]
    pii_audit.track(*numbers)
    ids = await send_sms(client, account, numbers)
    for notification_id in ids:
        fetched = await wait_for_status(client, account, notification_id, "delivered")
        assert fetched["completed_at"]
    assert len(provider.references) == len(numbers)
    async with runtime.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM parked_receipts"))).scalar_one() == 0
        carriers = (await conn.execute(text("SELECT DISTINCT carrier FROM notifications"))).scalars().all()
    assert carriers == ["Verizon"]
