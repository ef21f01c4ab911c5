"""Deliver a range of a job's rows: read recipients from storage, render, hand to the provider.

Task arguments are (job_id, first_row, last_row) only; recipients are read from the job's
object here, kept in memory for the duration of the call, and never written anywhere else.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.db.models import KeyType, TemplateType
from notify.log_config import get_logger
from notify.receipts.apply import Receipt
from notify.recipients.batch_file import RecipientRow, decode_batch
from notify.sending.providers.base import (
    EmailMessage,
    EmailProvider,
    ProviderError,
    SmsMessage,
    SmsProvider,
)
from notify.sending.providers.simulated import simulated_outcome
from notify.sending.senders import ServiceSenders, load_senders
from notify.statuses import Status
from notify.storage import ObjectStore
from notify.templates import MissingPersonalisation, render_email, render_sms

logger = get_logger(__name__)

ReceiptSink = Callable[[Sequence[Receipt]], Awaitable[None]]


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


@dataclass
class Deliverer:
    engine: AsyncEngine
    store: ObjectStore
    sms_provider: SmsProvider
    email_provider: EmailProvider
    receipts: ReceiptSink
    email_from_domain: str
    concurrency: int = 32

    async def deliver_rows(self, job_id: uuid.UUID, first_row: int, last_row: int) -> int:
        """Send every still-'created' notification in the range; safe to run again after a crash."""
        async with self.engine.connect() as conn:
            job = (
                await conn.execute(
                    text(
                        "SELECT j.object_key, j.service_id, s.name AS service_name FROM jobs j "
                        "JOIN services s ON s.id = j.service_id WHERE j.id = :id"
                    ),
                    {"id": job_id},
                )
            ).one_or_none()
            if job is None:
                logger.warning("job vanished before delivery", action="deliver.no_job", job_id=str(job_id))
                return 0
            rows = [
                _Row(r[0], r[1], r[2], r[3], TemplateType(r[4]), KeyType(r[5]), r[6])
                for r in (
                    await conn.execute(
                        text(
                            "SELECT id, job_row_number, template_id, template_version, notification_type, key_type, "
                            "sender_id FROM notifications WHERE job_id = :job AND job_row_number BETWEEN :a AND :b "
                            "AND status = 'created' ORDER BY job_row_number"
                        ),
                        {"job": job_id, "a": first_row, "b": last_row},
                    )
                ).all()
            ]
            if not rows:
                return 0
            templates = {
                (r.template_id, r.version): r
                for r in (
                    await conn.execute(
                        text(
                            "SELECT template_id, version, subject, content FROM template_versions "
                            "WHERE template_id = ANY(:ids)"
                        ),
                        {"ids": list({r.template_id for r in rows})},
                    )
                ).all()
            }
            senders = await load_senders(conn, job.service_id, job.service_name, self.email_from_domain)
        recipients = decode_batch(
            await self.store.get(job.object_key), [r.job_row_number for r in rows], key=job.object_key
        )
        limit = asyncio.Semaphore(self.concurrency)

        async def one(row: _Row) -> _Outcome:
            async with limit:
                return await self._send_one(row, recipients[row.job_row_number], templates, senders)

        outcomes = await asyncio.gather(*(one(r) for r in rows))
        await self._record(outcomes)
        receipts = [
            Receipt(o.reference, o.final_status) for o in outcomes if o.final_status is not None and o.reference
        ]
        if receipts:
            await self.receipts(receipts)
        logger.info("rows delivered", action="deliver.rows", job_id=str(job_id), count=len(outcomes))
        return len(outcomes)

    async def _send_one(
        self, row: _Row, recipient: RecipientRow, templates: dict, senders: ServiceSenders  # type: ignore[type-arg]
    ) -> _Outcome:
        template = templates[(row.template_id, row.template_version)]
        try:
            message = _message(row, recipient, template, senders)
        except MissingPersonalisation:
            # Cannot happen for rows we validated, unless the stored object was tampered with.
            return _Outcome(row.id, Status.technical_failure, None, None, None, "missing personalisation")
        if row.key_type is KeyType.test:
            # Test keys never reach a provider, but follow the same status path as a real send.
            return _Outcome(row.id, Status.sending, None, f"test-{row.id}", simulated_outcome(message.to))
        try:
            if isinstance(message, SmsMessage):
                provider = self.sms_provider.name
                result = await self.sms_provider.send_sms(message)
            else:
                provider = self.email_provider.name
                result = await self.email_provider.send_email(message)
        except ProviderError as exc:
            logger.warning(
                "provider refused message",
                action="deliver.provider_error",
                notification_id=str(row.id),
                error=type(exc).__name__,
            )
            return _Outcome(row.id, Status.technical_failure, None, None, None, type(exc).__name__)
        return _Outcome(row.id, Status.sending, provider, result.provider_reference, result.final_status, result.response)

    async def _record(self, outcomes: Sequence[_Outcome]) -> None:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    """
                    UPDATE notifications AS n
                    SET status = o.status, provider = o.provider, provider_reference = o.reference,
                        provider_response = o.response, sent_at = :now, updated_at = :now,
                        completed_at = CASE WHEN o.status = 'technical-failure' THEN :now ELSE NULL END
                    FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:providers AS text[]),
                                CAST(:refs AS text[]), CAST(:responses AS text[]))
                         AS o(id, status, provider, reference, response)
                    WHERE n.id = o.id AND n.status = 'created'
                    """
                ),
                {
                    "now": now,
                    "ids": [o.notification_id for o in outcomes],
                    "statuses": [o.status.value for o in outcomes],
                    "providers": [o.provider for o in outcomes],
                    "refs": [o.reference for o in outcomes],
                    "responses": [o.response for o in outcomes],
                },
            )


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
