"""Deliver a range of a job's rows: read recipients from storage, render, hand to the provider.

Task arguments are (job_id, first_row, last_row) only; recipients are read from the job's object
here, kept in memory for the duration of the call, and never written anywhere else.

Crash safety.  Rows are *claimed* ('created' -> 'sending', committed) a few hundred at a time
before the provider sees them, and the provider's reference is recorded right after.  A worker
killed between the two leaves claimed rows without a reference; the retried task marks exactly
those as technical-failure instead of sending them again, because a provider cannot be asked
whether it already has them.  So a row is never sent twice, and the in-doubt window is at most
one claim of rows per killed worker (settings.claim_rows).

The same rule decides what happens when a provider does not answer: a request that timed out
after it was sent is technical-failure ("in doubt"), never retried, because the provider may have
accepted it.  Throttling and errors the provider did answer with are retried as
notify.sending.provider_retry explains; a throttled message waits out its backoff without a
concurrency slot, and outcomes are recorded as they arrive (notify.sending.in_flight), so the
rest of the chunk is sent and recorded meanwhile, later claims included.  A worker killed while a
message waits leaves it claimed without a reference: in doubt, like any other (so the in-doubt
window is one claim plus the few messages still backing off).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notify.db.models import JobKind, KeyType, TemplateType
from notify.jobs.processing import finish_chunk
from notify.jobs.records import JobNotFound, get_job
from notify.log_config import get_logger
from notify.callbacks.outbox import enqueue_callbacks_cte
from notify.receipts.apply import Receipt, apply_parked_for
from notify.recipients.batch_file import RecipientRow, StoredRow, UnreadableRow
from notify.recipients.lookup import read_rows
from notify.recipients.phone import is_international
from notify.sending.in_flight import InFlight
from notify.sending.provider_retry import RetryPolicy, send_with_retries
from notify.sending.providers.base import (
    EmailMessage,
    EmailProvider,
    PermanentProviderError,
    ProviderError,
    SendResult,
    SmsMessage,
    SmsProvider,
)
from notify.sending.providers.registry import Providers
from notify.sending.providers.simulated import simulated_outcome
from notify.sending.rate_limit import SendRateLimiter
from notify.sending.senders import ServiceSenders, load_senders
from notify.statuses import FINAL, Status
from notify.storage import ObjectStore
from notify.templates import (
    EmptyMessage,
    MissingPersonalisation,
    SmsTooLong,
    render_email,
    render_sms,
    sms_length,
)

logger = get_logger(__name__)

ReceiptSink = Callable[[AsyncConnection, Sequence[Receipt]], Awaitable[None]]

IN_DOUBT = "in doubt: the worker stopped after claiming this message, so it was not resent"
# A send that raised something unforeseen: the provider may or may not have it, so it is not retried.
NO_LONGER_RENDERS = "row no longer renders"
_MAX_REFERENCE = 255  # notifications.provider_reference
ROW_FAILED = "technical error while preparing or sending this message, so it was not retried"


_RESOLVE_IN_DOUBT = text(
    f"""
    WITH changed AS (
        UPDATE notifications SET status = 'technical-failure', provider_response = :why,
            completed_at = now(), updated_at = now()
        WHERE job_id = :job AND job_row_number BETWEEN :a AND :b
          AND status = 'sending' AND provider_reference IS NULL
        RETURNING id, service_id, status
    ),
    {enqueue_callbacks_cte("changed")}
    SELECT count(*) FROM changed
    """
)

_RECORD = text(
    f"""
    WITH changed AS (
        UPDATE notifications AS n
        SET status = o.status, provider = o.provider, provider_reference = o.reference,
            provider_response = o.response, billable_units = o.billable, international = o.international,
            updated_at = :now,
            completed_at = CASE WHEN o.status = ANY(CAST(:final AS text[])) THEN :now ELSE NULL END
        FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:providers AS text[]),
                    CAST(:refs AS text[]), CAST(:responses AS text[]), CAST(:billable AS int[]),
                    CAST(:international AS boolean[]))
             AS o(id, status, provider, reference, response, billable, international)
        WHERE n.id = o.id AND n.status = 'sending' AND n.provider_reference IS NULL
        RETURNING n.id, n.service_id, n.status
    ),
    {enqueue_callbacks_cte("changed")}
    SELECT count(*) FROM changed
    """
)


@dataclass(frozen=True, slots=True)
class _Row:
    id: uuid.UUID
    job_row_number: int
    template_id: uuid.UUID
    template_version: int
    notification_type: TemplateType
    key_type: KeyType
    sender_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class _Outcome:
    notification_id: uuid.UUID
    status: Status
    provider: str | None
    reference: str | None
    final_status: Status | None
    response: str | None = None
    billable_units: int = 0
    international: bool = False


@dataclass(frozen=True, slots=True)
class _Route:
    """The providers one service sends through (its own choice, or the configured defaults)."""

    sms: SmsProvider
    email: EmailProvider


@dataclass
class Deliverer:
    engine: AsyncEngine
    store: ObjectStore
    providers: Providers
    receipts: ReceiptSink
    email_from_domain: str
    default_region: str = "US"
    concurrency: int = 32
    claim_rows: int = 250
    rate_limiter: SendRateLimiter | None = None
    sms_rate: float = 0.0
    email_rate: float = 0.0
    retry: RetryPolicy = RetryPolicy()
    record_linger: float = 1.0  # longest a finished send waits to be recorded with others still in flight

    async def deliver_rows(self, job_id: uuid.UUID, first_row: int, last_row: int) -> int:
        """Send every still-'created' notification in the range; safe to run again after a crash."""
        async with self.engine.connect() as conn:
            try:
                job = await get_job(conn, None, job_id, with_counts=False)
            except JobNotFound:
                logger.warning("job vanished before delivery", action="deliver.no_job", job_id=str(job_id))
                return 0
            service = (
                await conn.execute(
                    text("SELECT name, sms_provider, email_provider FROM services WHERE id = :id"),
                    {"id": job.service_id},
                )
            ).one()
            senders = await load_senders(conn, job.service_id, service.name, self.email_from_domain)
        route = _Route(self.providers.sms_for(service.sms_provider), self.providers.email_for(service.email_provider))
        await self._resolve_in_doubt(job_id, first_row, last_row)
        rows = await self._unsent(job_id, first_row, last_row)
        sent = 0
        if rows:
            templates = await self._templates(rows)
            recipients = await read_rows(
                self.store, job.file, [r.job_row_number for r in rows], default_region=self.default_region
            )
            flight: InFlight[_Outcome] = InFlight(self.concurrency, self._record, linger=self.record_linger)
            try:
                for start in range(0, len(rows), self.claim_rows):
                    claim = rows[start : start + self.claim_rows]
                    await self._deliver_claim(claim, recipients, templates, senders, route, flight)
                await flight.finish()
            finally:
                await flight.cancel()
            sent = flight.started
        if job.kind is JobKind.upload:
            async with self.engine.begin() as conn:
                if await finish_chunk(conn, job_id, first_row):
                    logger.info("job finished", action="job.finished", job_id=str(job_id))
        logger.info("rows delivered", action="deliver.rows", job_id=str(job_id), count=sent)
        return sent

    async def _resolve_in_doubt(self, job_id: uuid.UUID, first_row: int, last_row: int) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                _RESOLVE_IN_DOUBT, {"job": job_id, "a": first_row, "b": last_row, "why": IN_DOUBT}
            )
            count = result.scalar_one()
        if count:
            logger.warning("in-doubt rows failed", action="deliver.in_doubt", job_id=str(job_id), count=count)

    async def _unsent(self, job_id: uuid.UUID, first_row: int, last_row: int) -> list[_Row]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                text(
                    "SELECT id, job_row_number, template_id, template_version, notification_type, key_type, "
                    "sender_id FROM notifications WHERE job_id = :job AND job_row_number BETWEEN :a AND :b "
                    "AND status = 'created' ORDER BY job_row_number"
                ),
                {"job": job_id, "a": first_row, "b": last_row},
            )
            return [_Row(r[0], r[1], r[2], r[3], TemplateType(r[4]), KeyType(r[5]), r[6]) for r in result.all()]

    async def _templates(self, rows: Sequence[_Row]) -> dict[tuple[uuid.UUID, int], Any]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                text("SELECT template_id, version, subject, content FROM template_versions WHERE template_id = ANY(:ids)"),
                {"ids": list({r.template_id for r in rows})},
            )
            return {(r.template_id, r.version): r for r in result.all()}

    async def _deliver_claim(
        self,
        rows: Sequence[_Row],
        recipients: dict[int, StoredRow | None],
        templates: dict[tuple[uuid.UUID, int], Any],
        senders: ServiceSenders,
        route: _Route,
        flight: InFlight[_Outcome],
    ) -> None:
        async with self.engine.begin() as conn:
            claimed_ids = set(
                (
                    await conn.execute(
                        text(
                            "UPDATE notifications SET status = 'sending', sent_at = now(), updated_at = now() "
                            "WHERE id = ANY(:ids) AND status = 'created' RETURNING id"
                        ),
                        {"ids": [r.id for r in rows]},
                    )
                ).scalars()
            )
        claimed = [r for r in rows if r.id in claimed_ids]
        if not claimed:
            return
        await self._wait_for_rate(claimed, senders, route)
        for row in claimed:
            flight.start(self._send_one(row, recipients.get(row.job_row_number), templates, senders, route, flight),
                         functools.partial(_failed, row))
        # On to the next claim once everything is sent, except messages waiting out a backoff.
        await flight.settle()

    def _rate_bucket(self, row: _Row, senders: ServiceSenders, route: _Route) -> tuple[str, float]:
        if row.notification_type is TemplateType.sms:
            return f"sms:{senders.sms_sender(row.sender_id)}", self.sms_rate
        return f"email:{route.email.name}", self.email_rate

    async def _wait_for_rate(self, rows: Sequence[_Row], senders: ServiceSenders, route: _Route) -> None:
        """Hold this claim until its sender's shared token bucket allows it (all workers together)."""
        if self.rate_limiter is None:
            return
        wanted: dict[tuple[str, float], int] = {}
        for row in rows:
            if row.key_type is KeyType.test:
                continue
            key = self._rate_bucket(row, senders, route)
            wanted[key] = wanted.get(key, 0) + 1
        for (bucket, rate), count in wanted.items():
            while count > 0 and rate > 0:
                count -= await self.rate_limiter.acquire(bucket, count, rate=rate)

    async def _send_one(
        self,
        row: _Row,
        recipient: StoredRow | None,
        templates: dict[tuple[uuid.UUID, int], Any],
        senders: ServiceSenders,
        route: _Route,
        flight: InFlight[_Outcome],
    ) -> _Outcome:
        if recipient is None:
            return _Outcome(row.id, Status.technical_failure, None, None, None, "recipient file missing or expired")
        if isinstance(recipient, UnreadableRow):
            return _Outcome(row.id, Status.technical_failure, None, None, None, "recipient row cannot be read")
        template = templates[(row.template_id, row.template_version)]
        try:
            message = _message(row, recipient, template, senders)
        except (MissingPersonalisation, SmsTooLong, EmptyMessage):
            # Rows were validated on the way in; this only happens if the object was altered.
            return _Outcome(row.id, Status.technical_failure, None, None, None, NO_LONGER_RENDERS)
        billable, international = _billing(message, self.default_region)
        if row.key_type is KeyType.test:
            # Test keys never reach a provider, but follow the same status path as a real send.
            return _Outcome(row.id, Status.sending, None, f"test-{row.id}",
                            simulated_outcome(message.to, international=international), None,
                            billable, international)
        provider: SmsProvider | EmailProvider
        send: Callable[[], Awaitable[SendResult]]
        if isinstance(message, SmsMessage):
            provider = route.sms
            send = functools.partial(route.sms.send_sms, message)
        else:
            provider = route.email
            send = functools.partial(route.email.send_email, message)

        async def before_retry(error: ProviderError, retry: int, waited: float) -> None:
            logger.info("retrying provider", action="deliver.retry", notification_id=str(row.id),
                        provider=provider.name, error=type(error).__name__, code=error.code, retry=retry,
                        waited=round(waited, 3))
            bucket, rate = self._rate_bucket(row, senders, route)
            if self.rate_limiter is not None and rate > 0:
                await self.rate_limiter.acquire(bucket, 1, rate=rate)  # a retry is another send

        try:
            result = await send_with_retries(send, self.retry, slot=flight.slot, rest=flight.rest,
                                             on_retry=before_retry)
        except ProviderError as exc:
            # Never the provider's own message: it can echo the recipient.  Reason and code only.
            logger.warning("provider refused message", action="deliver.provider_error", notification_id=str(row.id),
                           provider=provider.name, error=type(exc).__name__, code=exc.code)
            if isinstance(exc, PermanentProviderError):
                return _Outcome(row.id, Status.permanent_failure, provider.name, None, None, exc.reason,
                                billable, international)
            return _Outcome(row.id, Status.technical_failure, provider.name, None, None, str(exc),
                            billable, international)
        if not _storable_reference(result.provider_reference):
            # It would fail the whole batch's record, and with it every outcome recorded beside it.
            raise UnusableReference()
        response = result.response.replace("\x00", "") if result.response else result.response
        return _Outcome(row.id, Status.sending, provider.name, result.provider_reference, result.final_status,
                        response, billable, international)

    async def _record(self, outcomes: Sequence[_Outcome]) -> None:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                _RECORD,
                {
                    "now": now,
                    "final": sorted(status.value for status in FINAL),
                    "ids": [o.notification_id for o in outcomes],
                    "statuses": [o.status.value for o in outcomes],
                    "providers": [o.provider for o in outcomes],
                    "refs": [o.reference for o in outcomes],
                    "responses": [o.response for o in outcomes],
                    "billable": [o.billable_units for o in outcomes],
                    "international": [o.international for o in outcomes],
                },
            )
            # Receipts that beat this transaction to the database were parked; they apply now.
            await apply_parked_for(conn, [o.reference for o in outcomes if o.reference])
            receipts = [
                Receipt(o.reference, o.final_status) for o in outcomes if o.final_status is not None and o.reference
            ]
            if receipts:
                # Committed with the send record: a worker killed now cannot lose them.
                await self.receipts(conn, receipts)


class UnusableReference(Exception):
    """The provider accepted a message but its reference cannot be stored (too long, or a NUL)."""


def _storable_reference(reference: str) -> bool:
    return bool(reference) and len(reference) <= _MAX_REFERENCE and "\x00" not in reference


def _failed(row: _Row, error: BaseException) -> _Outcome:
    """The outcome of a send that raised: that row fails, with a fixed reason, and nothing else does.

    Logged by type only: an unforeseen exception's text may quote the recipient or the message.
    """
    logger.error("send raised", action="deliver.send_raised", notification_id=str(row.id),
                 error=type(error).__name__)
    return _Outcome(row.id, Status.technical_failure, None, None, None, ROW_FAILED)


def _message(row: _Row, recipient: RecipientRow, template: Any, senders: ServiceSenders) -> SmsMessage | EmailMessage:
    reference = str(row.id)
    if row.notification_type is TemplateType.sms:
        sms = render_sms(template.content, recipient.personalisation)
        return SmsMessage(recipient.recipient, sms.body, senders.sms_sender(row.sender_id), reference)
    email = render_email(template.subject or "", template.content, recipient.personalisation)
    return EmailMessage(
        recipient.recipient,
        email.subject,
        email.body,
        senders.from_email,
        senders.reply_to_address(row.sender_id),
        reference,
    )


def _billing(message: SmsMessage | EmailMessage, region: str) -> tuple[int, bool]:
    if isinstance(message, EmailMessage):
        return 0, False
    return sms_length(message.body).fragments, is_international(message.to, region)
