"""Group commit of API sends: many concurrent requests share one batch object and one transaction.

A request gets its 201 only after the object holding its recipient is durably stored and the
notification row, the job row and the delivery task have committed together.  Batching is
what lets a PII-free database keep up with API traffic: one object PUT and one COPY per batch
instead of per request.

The daily message limit and the rate limit are enforced here, inside the same transaction,
against counters in PostgreSQL, so they hold across every API process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notify.db.commit_outcome import CommitOutcome, CommitOutcomeUnknown, commit_outcome, transaction_id
from notify.db.models import JobKind, KeyType, TemplateType
from notify.log_config import get_logger
from notify.micro_batch import MicroBatcher
from notify.recipients.batch_file import HEADER_LINE, encode_row
from notify.sending import allowance
from notify.sending.allowance import RATE_WINDOW
from notify.storable_text import UnstorableText, check_text, first_unstorable
from notify.storage import ObjectStore, upload_key

logger = get_logger(__name__)


@dataclass(slots=True)
class PendingSend:
    """One validated API send waiting for its batch. Holds the recipient in memory only."""

    notification_id: uuid.UUID
    service_id: uuid.UUID
    template_id: uuid.UUID
    template_version: int
    notification_type: TemplateType
    api_key_id: uuid.UUID
    key_type: KeyType
    recipient: str
    personalisation: Mapping[str, Any]
    client_reference: str | None
    sender_id: uuid.UUID | None
    international: bool
    billable_units: int
    message_limit: int
    rate_limit: int
    future: asyncio.Future[Accepted] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(frozen=True, slots=True)
class Accepted:
    job_id: uuid.UUID
    row_number: int
    created_at: datetime


class SendLimitExceeded(Exception):
    """The service has used its daily allowance."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Exceeded send limits ({limit}) for today")
        self.limit = limit


class RateLimitExceeded(Exception):
    def __init__(self, key_type: KeyType, limit: int, interval: int) -> None:
        super().__init__(
            f"Exceeded rate limit for key type {key_type.value.upper()} of {limit} requests per {interval} seconds"
        )
        self.key_type, self.limit, self.interval = key_type, limit, interval


class BatchFailed(Exception):
    """Storing the batch failed; nothing was committed and the client may retry."""


def _batch_line(send: PendingSend) -> bytes:
    """This send's line of its batch object, after checking that every text in it can be stored.

    The API edge refuses such text already; checking again here is what keeps one request that
    got past it (another caller, a future bug) from failing the whole batch in the COPY.
    """
    check_text(send.recipient, "recipient")
    if send.client_reference is not None:
        check_text(send.client_reference, "reference")
    found = first_unstorable(dict(send.personalisation), "personalisation")
    if found is not None:
        raise UnstorableText(*found)
    return encode_row(send.recipient, send.personalisation)


DeferDelivery = Callable[[AsyncConnection, uuid.UUID, int, int], Awaitable[None]]


class GroupCommitter:
    def __init__(
        self,
        engine: AsyncEngine,
        store: ObjectStore,
        defer_delivery: DeferDelivery,
        *,
        max_wait: float = 0.004,
        max_size: int = 500,
        max_inflight: int = 4,
    ) -> None:
        self._engine = engine
        self._store = store
        self._defer_delivery = defer_delivery
        self._batcher: MicroBatcher[PendingSend] = MicroBatcher(
            self._flush, name="group-commit", max_wait=max_wait, max_size=max_size, max_inflight=max_inflight
        )

    async def start(self) -> None:
        await self._batcher.start()

    async def close(self) -> None:
        """Flush what is queued, then stop; requests already accepted are never dropped."""
        await self._batcher.close()

    async def submit(self, send: PendingSend) -> Accepted:
        self._batcher.put(send)
        return await send.future

    async def _flush(self, batch: list[PendingSend]) -> None:
        """Store and commit a batch so that each request succeeds or fails on its own.

        A request whose own part cannot be built (its data, or an exception while encoding it)
        fails alone, before anything is reserved for it; a service whose object cannot be stored
        fails alone; only the shared transaction fails everyone left, and then only once it is
        certain nothing committed.
        """
        try:
            await self._store_and_commit(batch)
        except Exception as exc:  # a bug in the batching itself must still answer every request
            logger.error("batch failed unexpectedly", action="api_batch.crashed", error=type(exc).__name__)
            self._fail(batch, BatchFailed("the message could not be stored; please retry"))

    async def _store_and_commit(self, batch: list[PendingSend]) -> None:
        now = datetime.now(UTC)
        lines: dict[int, bytes] = {}
        by_service: dict[uuid.UUID, list[PendingSend]] = defaultdict(list)
        for send in batch:
            try:
                lines[id(send)] = _batch_line(send)
            except Exception as exc:
                logger.warning("send refused by the batch", action="api_batch.send_refused", error=type(exc).__name__)
                send.future.set_exception(exc)
                continue
            by_service[send.service_id].append(send)
        if not by_service:
            return

        results: dict[int, Accepted | BaseException] = {}
        reserved: dict[uuid.UUID, int] = {}
        accepted: dict[uuid.UUID, list[PendingSend]] = {}
        try:
            # Autocommit: each reservation is one statement, its row locks held only while it runs.
            async with self._engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                for service_id in sorted(by_service):
                    sends, granted = await self._reserve(conn, by_service[service_id], now, results)
                    reserved[service_id] = granted
                    if sends:
                        accepted[service_id] = sends
        except Exception as exc:
            logger.warning("allowance not reserved", action="api_batch.reserve_failed", error=type(exc).__name__)
            await self._refund(reserved, now)
            self._fail(batch, BatchFailed("the message could not be stored; please retry"))
            return

        jobs = {service_id: uuid.uuid4() for service_id in accepted}
        keys = {service_id: upload_key(service_id, jobs[service_id]) for service_id in accepted}
        stored = await asyncio.gather(
            *(
                self._store.put(keys[service_id], HEADER_LINE + b"".join(lines[id(s)] for s in sends))
                for service_id, sends in accepted.items()
            ),
            return_exceptions=True,
        )
        for service_id, outcome in zip(list(accepted), stored, strict=True):
            if isinstance(outcome, BaseException):
                logger.warning("batch object not stored", action="api_batch.store_failed",
                               service_id=str(service_id), error=type(outcome).__name__)
                sends = accepted.pop(service_id)
                await self._discard_objects([keys.pop(service_id)])
                await self._refund({service_id: reserved.pop(service_id, 0)}, now)
                for send in sends:
                    results[id(send)] = BatchFailed("the message could not be stored; please retry")

        if accepted:
            await self._commit(accepted, jobs, keys, reserved, now, results)
        self._settle(batch, results)

    async def _commit(
        self,
        accepted: Mapping[uuid.UUID, list[PendingSend]],
        jobs: Mapping[uuid.UUID, uuid.UUID],
        keys: Mapping[uuid.UUID, str],
        reserved: Mapping[uuid.UUID, int],
        now: datetime,
        results: dict[int, Accepted | BaseException],
    ) -> None:
        """Rows and tasks in one transaction; if its outcome is unclear, ask PostgreSQL before undoing."""
        xid: int | None = None
        try:
            async with self._engine.begin() as conn:
                xid = await transaction_id(conn)
                await self._insert(conn, accepted, jobs, keys, now)
                for service_id, sends in accepted.items():
                    await self._defer_delivery(conn, jobs[service_id], 0, len(sends) - 1)
        except Exception as exc:
            outcome = await commit_outcome(self._engine, xid)
            logger.warning("batch transaction failed", action="api_batch.commit_failed", error=type(exc).__name__,
                           outcome=outcome.value, size=sum(map(len, accepted.values())),
                           job_ids=[str(j) for j in jobs.values()])
            if outcome is not CommitOutcome.committed:
                if outcome is CommitOutcome.aborted:
                    await self._discard_objects(list(keys.values()))
                    await self._refund(reserved, now)
                for sends in accepted.values():
                    for send in sends:
                        results[id(send)] = (
                            BatchFailed("the message could not be stored; please retry")
                            if outcome is CommitOutcome.aborted
                            else CommitOutcomeUnknown(
                                "We could not confirm that the message was stored, and it may have been: check "
                                f"GET /v2/notifications/{send.notification_id} before sending it again"
                            )
                        )
                return
        for service_id, sends in accepted.items():
            for row_number, send in enumerate(sends):
                results[id(send)] = Accepted(jobs[service_id], row_number, now)

    @staticmethod
    def _settle(batch: Sequence[PendingSend], results: Mapping[int, Accepted | BaseException]) -> None:
        for send in batch:
            if send.future.done() or id(send) not in results:
                continue
            outcome = results[id(send)]
            if isinstance(outcome, BaseException):
                send.future.set_exception(outcome)
            else:
                send.future.set_result(outcome)

    @staticmethod
    def _fail(batch: Sequence[PendingSend], failure: Exception) -> None:
        for send in batch:
            if not send.future.done():
                send.future.set_exception(failure)

    async def _discard_objects(self, keys: Sequence[str]) -> None:
        for key in keys:
            try:
                await self._store.delete(key)
            except Exception:
                logger.warning("orphan batch object left behind", action="api_batch.orphan", key=key)

    async def _reserve(
        self,
        conn: AsyncConnection,
        sends: list[PendingSend],
        now: datetime,
        results: dict[int, Accepted | BaseException],
    ) -> tuple[list[PendingSend], int]:
        """Take daily and per-minute allowance for the sends that count; reject the rest in arrival order.

        The check-and-take runs inside PostgreSQL (notify_reserve_allowance, migration 0002).
        Test keys never count against either limit, as in GOV.UK Notify.
        """
        counted = [s for s in sends if s.key_type is not KeyType.test]
        if not counted:
            return sends, 0
        message_limit, rate_limit = counted[-1].message_limit, counted[-1].rate_limit
        granted, daily_left, rate_left = astuple(
            await allowance.reserve(
                conn, counted[0].service_id, len(counted), daily_limit=message_limit, rate_limit=rate_limit, now=now
            )
        )
        rejected = counted[granted:]
        for send in rejected:
            # GOV.UK checks the rate limit before the daily limit; report whichever ran out first.
            results[id(send)] = (
                RateLimitExceeded(send.key_type, rate_limit, int(RATE_WINDOW.total_seconds()))
                if rate_left <= daily_left
                else SendLimitExceeded(message_limit)
            )
        rejected_ids = {id(s) for s in rejected}
        return [s for s in sends if id(s) not in rejected_ids], granted

    async def _refund(self, reserved: Mapping[uuid.UUID, int], now: datetime) -> None:
        """Give back allowance taken for a batch that then failed (best effort: the DB may be down)."""
        refunds = {service_id: amount for service_id, amount in reserved.items() if amount}
        if not refunds:
            return
        try:
            async with self._engine.begin() as conn:
                for service_id in sorted(refunds):
                    await allowance.release(conn, service_id, refunds[service_id], now=now)
        except Exception:
            logger.warning("allowance not refunded after a failed batch", action="api_batch.refund_failed")

    async def _insert(
        self,
        conn: AsyncConnection,
        accepted: Mapping[uuid.UUID, list[PendingSend]],
        jobs: Mapping[uuid.UUID, uuid.UUID],
        keys: Mapping[uuid.UUID, str],
        now: datetime,
    ) -> None:
        raw = await conn.get_raw_connection()
        pg = raw.driver_connection
        async with pg.cursor() as cur:
            async with cur.copy(
                "COPY jobs (id, service_id, kind, object_key, row_count, status, created_at) FROM STDIN"
            ) as copy:
                for service_id, sends in accepted.items():
                    await copy.write_row(
                        (jobs[service_id], service_id, JobKind.api.value, keys[service_id], len(sends), "in progress", now)
                    )
            async with cur.copy(
                "COPY notifications (id, service_id, job_id, job_row_number, job_kind, template_id, template_version, "
                "notification_type, api_key_id, key_type, client_reference, sender_id, international, "
                "billable_units, status, created_at) FROM STDIN"
            ) as copy:
                for service_id, sends in accepted.items():
                    for row_number, s in enumerate(sends):
                        await copy.write_row(
                            (
                                s.notification_id,
                                service_id,
                                jobs[service_id],
                                row_number,
                                JobKind.api.value,
                                s.template_id,
                                s.template_version,
                                s.notification_type.value,
                                s.api_key_id,
                                s.key_type.value,
                                s.client_reference,
                                s.sender_id,
                                s.international,
                                s.billable_units,
                                "created",
                                now,
                            )
                        )
