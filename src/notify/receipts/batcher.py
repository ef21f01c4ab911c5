"""Per-process batching of webhook receipts: many requests, one transaction, one UPDATE.

An SNS delivery carries a single event, so applying each in its own transaction would cap
receipts at the database's commit rate. Requests instead queue their receipts here for a few
milliseconds (notify.micro_batch); each batch records its message ids and applies all its receipts
through ``apply_receipts`` in one transaction, and every request is answered only after that
commit. If the batch fails, each message is tried again in a transaction of its own, so one
message's bad data fails only its own request; a message that still fails gets a 503, so SNS retries.

Seen ids older than the replay window are purged opportunistically, at most once per
``purge_every`` seconds per process, after a batch has answered its requests: the table only
grows while receipts flow, so the process that fills it also keeps it small, and no extra
periodic task is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from notify.log_config import get_logger
from notify.micro_batch import MicroBatcher
from notify.receipts.apply import Receipt, apply_receipts
from notify.receipts.sns_seen import mark_seen, purge_seen

logger = get_logger(__name__)


@dataclass(slots=True)
class PendingMessage:
    """One verified SNS notification waiting for its batch; holds no recipient."""

    message_id: str
    receipts: Sequence[Receipt]
    future: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ReceiptBatchFailed(Exception):
    """The batch could not be committed; nothing was applied and the sender may retry."""


class ReceiptBatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        keep_seen_seconds: float,
        max_wait: float = 0.004,
        max_size: int = 500,
        purge_every: float = 60.0,
    ) -> None:
        self._engine = engine
        self._keep_seen_seconds = keep_seen_seconds
        self._purge_every = purge_every
        self._next_purge = 0.0
        self._batcher: MicroBatcher[PendingMessage] = MicroBatcher(
            self._flush, name="receipt-batch", max_wait=max_wait, max_size=max_size
        )

    async def start(self) -> None:
        await self._batcher.start()

    async def close(self) -> None:
        await self._batcher.close()

    async def submit(self, message_id: str, receipts: Sequence[Receipt]) -> bool:
        """Apply once committed: True if applied now, False if this message id was accepted before."""
        pending = PendingMessage(message_id, receipts)
        self._batcher.put(pending)
        return await pending.future

    async def _flush(self, batch: list[PendingMessage]) -> None:
        first: dict[str, PendingMessage] = {}
        for pending in batch:
            first.setdefault(pending.message_id, pending)
        try:
            async with self._engine.begin() as conn:
                fresh = await mark_seen(conn, list(first))
                receipts = [r for message_id in fresh for r in first[message_id].receipts]
                changed = (await apply_receipts(conn, receipts)).changed if receipts else 0
        except Exception as exc:
            # By type only: the driver's message may quote the statement's parameters.
            logger.error("receipt batch failed", action="receipts.batch_failed", size=len(batch),
                         error=type(exc).__name__)
            if len(first) > 1:
                # One message's bad data (a NUL in a carrier name, say) must not fail the others:
                # each message gets its own transaction, and only the one at fault fails.
                for message_id in first:
                    await self._flush([p for p in batch if p.message_id == message_id])
                return
            failure = ReceiptBatchFailed("the receipts could not be stored; please retry")
            failure.__cause__ = exc
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(failure)
            return
        logger.debug("receipt batch committed", action="receipts.batch_committed", messages=len(batch),
                     applied=len(fresh), receipts=len(receipts), changed=changed)
        for pending in batch:
            if not pending.future.done():
                pending.future.set_result(first[pending.message_id] is pending and pending.message_id in fresh)
        await self._maybe_purge()

    async def _maybe_purge(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_purge:
            return
        self._next_purge = loop.time() + self._purge_every
        try:
            deleted = await purge_seen(self._engine, keep_seconds=self._keep_seen_seconds)
        except Exception as exc:  # the next batch after purge_every tries again
            logger.warning("seen SNS ids not purged", action="receipts.seen_purge_failed", error=type(exc).__name__)
            return
        if deleted:
            logger.info("old SNS message ids purged", action="receipts.seen_purged", deleted=deleted)
