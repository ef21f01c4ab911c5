"""One row's exception fails that row only: every other row keeps the outcome it really had.

A row can raise while it is prepared (its stored data no longer renders) or while it is sent (a
provider library raising something nobody expected).  Before, the in-flight batch threw away the
outcomes of every message that had finished beside it, and the retried task then marked all of
them technical-failure "in doubt" although the provider had them: a team would resend to people
who already got the message.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from notify.app import create_app
from notify.catalogue import templates
from notify.config import Settings
from notify.db.models import TemplateType
from notify.runtime import Runtime
from notify.sending.deliver import IN_DOUBT, NO_LONGER_RENDERS, ROW_FAILED
from notify.sending.providers.base import EmailMessage, SendResult, SmsMessage
from notify.sending.providers.simulated import SimulatedProvider
from notify.storage import upload_key
from tests.support.accounts import create_account
from tests.support.aws import notification_rows
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_for_job, wait_until_all_final
from tests.support.pii_audit import PiiAudit

ROWS = 60


@dataclass
class _PoisonedProvider:
    """The simulated provider, except that sending to ``poisoned`` raises what no one planned for.

    The exception's text names the recipient, as library errors often do: the test proves it is
    neither stored nor logged.
    """

    inner: SimulatedProvider = field(default_factory=lambda: SimulatedProvider(record=True))
    poisoned: set[str] = field(default_factory=set)
    unusable: set[str] = field(default_factory=set)  # accepted, but with a reference no column can hold
    name: str = "poisoned"

    async def send_sms(self, message: SmsMessage) -> SendResult:
        self._check(message.to)
        result = await self.inner.send_sms(message)
        if message.to in self.unusable:
            return SendResult("x" * 300, result.final_status)
        return result

    async def send_email(self, message: EmailMessage) -> SendResult:
        self._check(message.to)
        return await self.inner.send_email(message)

    def _check(self, to: str) -> None:
        if to in self.poisoned:
            raise KeyError(f"no route for {to}")


@pytest.fixture
def provider() -> _PoisonedProvider:  # type: ignore[override]
    return _PoisonedProvider()


def _e164(row: list[str]) -> str:
    return "+1" + "".join(ch for ch in row[0] if ch.isdigit())


async def test_an_unexpected_provider_exception_fails_that_row_only(
    client: httpx.AsyncClient, runtime: Runtime, provider: _PoisonedProvider, pii_audit: PiiAudit
) -> None:
    account = await create_account(runtime)
    rows = sms_rows(ROWS, start=6100)
    pii_audit.track(*(r[0] for r in rows), *(_e164(r) for r in rows))
    poisoned, unusable = 23, 37
    provider.poisoned.add(_e164(rows[poisoned]))
    provider.unusable.add(_e164(rows[unusable]))

    job_id = (await upload(client, account, csv_bytes(rows))).json()["data"]["id"]
    await wait_until_all_final(client, account, job_id)
    job = await wait_for_job(client, account, job_id)
    sent = await notification_rows(runtime, job_id)

    assert job["status"] == "finished"
    assert (sent[poisoned].status, sent[poisoned].provider_response) == ("technical-failure", ROW_FAILED)
    assert sent[poisoned].completed_at is not None
    # Accepted, but its reference could not be kept: it fails alone too, rather than the record.
    assert (sent[unusable].status, sent[unusable].provider_response) == ("technical-failure", ROW_FAILED)
    others = [n for n in range(ROWS) if n not in (poisoned, unusable)]
    assert {n: sent[n].status for n in others} == {n: "delivered" for n in others}
    assert not [n for n, row in sent.items() if row.provider_response == IN_DOUBT]
    # The provider got every other message exactly once, and these are the rows that say so.
    accepted = Counter(m.reference for m in provider.inner.sent)
    assert accepted == Counter(str(sent[n].id) for n in [*others, unusable])


async def test_a_stored_row_that_no_longer_renders_fails_that_row_only(
    settings: Settings, pii_audit: PiiAudit
) -> None:
    """The issue's case: an email row whose conditional placeholder empties its body.

    The file is uploaded while no worker runs, then one row is changed in storage (same length,
    so the row index still points at the right bytes) from "yes" to "no ", which switches the
    template's only text off; then the worker starts.
    """
    provider = SimulatedProvider(record=True)
    addresses = [f"permit.holder{n:03d}@example.org" for n in range(ROWS)]
    pii_audit.track(*addresses)
    emptied = 41
    intake = create_app(settings)
    async with intake.router.lifespan_context(intake):
        runtime: Runtime = intake.state.runtime
        account = await create_account(runtime)
        async with runtime.engine.begin() as conn:
            template = await templates.create_template(
                conn, account.service_id, name="Permit", template_type=TemplateType.email,
                subject="Your permit", content="((ready??Your permit is ready to collect.))",
            )
        data = csv_bytes([[a, "yes"] for a in addresses], header=["email address", "ready"])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://t") as client:
            response = await upload(client, account, data, template_id=str(template.id))
        assert response.status_code == 201, response.text
        job_id = response.json()["data"]["id"]
        altered = data.replace(f"{addresses[emptied]},yes".encode(), f"{addresses[emptied]},no ".encode())
        assert len(altered) == len(data) and altered != data
        await runtime.store.put(upload_key(account.service_id, uuid.UUID(job_id)), altered)

    worker = create_app(settings, run_worker=True, sms_provider=provider, email_provider=provider)
    async with worker.router.lifespan_context(worker):
        runtime = worker.state.runtime
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=worker), base_url="http://t") as client:
            await wait_until_all_final(client, account, job_id)
            job = await wait_for_job(client, account, job_id)
        sent = await notification_rows(runtime, job_id)

    assert job["status"] == "finished"
    assert (sent[emptied].status, sent[emptied].provider_response) == ("technical-failure", NO_LONGER_RENDERS)
    others = [n for n in range(ROWS) if n != emptied]
    assert {n: sent[n].status for n in others} == {n: "delivered" for n in others}
    assert not [n for n, row in sent.items() if row.provider_response == IN_DOUBT]
    assert Counter(m.to for m in provider.sent) == Counter(addresses[n] for n in others)
