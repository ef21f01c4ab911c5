"""Notifications that never got a receipt: after the timeout they become temporary-failure.

Carriers do not always report back. Without this a message would show "Sending" forever and
its service would never get a final callback. The candidates come from a partial index that
holds only notifications still waiting (ix_notifications_awaiting_receipt), so the periodic sweep
does not scan the table, and it works in bounded batches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.callbacks.outbox import enqueue_callbacks_cte
from notify.log_config import get_logger

logger = get_logger(__name__)

TIMED_OUT = "No receipt within the timeout"  # a REASON_LABELS key (lower-cased there)

_TIME_OUT = text(
    f"""
    WITH stale AS (
        SELECT id FROM notifications
        WHERE status IN ('sending', 'pending') AND sent_at < :cutoff
        ORDER BY sent_at LIMIT :limit FOR UPDATE SKIP LOCKED
    ),
    changed AS (
        UPDATE notifications AS n
        SET status = 'temporary-failure', provider_response = :why, completed_at = now(), updated_at = now()
        FROM stale WHERE n.id = stale.id AND n.status IN ('sending', 'pending')
        RETURNING n.id, n.service_id, n.status
    ),
    {enqueue_callbacks_cte("changed")}
    SELECT count(*) FROM changed
    """
)


async def time_out_unanswered(engine: AsyncEngine, *, cutoff: datetime, batch: int = 5_000) -> int:
    """Fail everything sent before ``cutoff`` that is still waiting; one short transaction per batch."""
    total = 0
    while True:
        async with engine.begin() as conn:
            count = (await conn.execute(_TIME_OUT, {"cutoff": cutoff, "limit": batch, "why": TIMED_OUT})).scalar_one()
        total += count
        if count < batch:
            break
    if total:
        logger.info("notifications timed out", action="receipts.timed_out", count=total)
    return total
