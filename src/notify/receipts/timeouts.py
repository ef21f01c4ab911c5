"""Notifications that never got a receipt: after the timeout they become temporary-failure.

Carriers do not always report back. Without this a message would show "Sending" forever and
its service would never get a final callback.

The sweep walks ``sent_at`` forward from a persisted watermark (receipt_sources 'timeouts'), one
bounded window per transaction, so each run reads only the sends that crossed the timeout since
the last run, and a run interrupted anywhere resumes where it stopped. Looking rows up by status
instead would need an index on status, and any such index makes every receipt a non-HOT update
(see migration 0009). A send's ``sent_at`` is fixed when it is claimed and statuses only move
forward, so a window, once swept, never needs sweeping again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.callbacks.outbox import enqueue_callbacks_cte
from notify.log_config import get_logger

logger = get_logger(__name__)

TIMED_OUT = "No receipt within the timeout"  # a REASON_LABELS key (lower-cased there)
SOURCE = "timeouts"
WINDOW = timedelta(minutes=10)
# With no watermark yet, start far enough back to cover anything retention still keeps.
FIRST_LOOKBACK = timedelta(days=8)

_WATERMARK = text("SELECT position ->> 'swept_until' FROM receipt_sources WHERE source = :source FOR UPDATE")

_SAVE_WATERMARK = text(
    """
    INSERT INTO receipt_sources (source, position, updated_at)
    VALUES (:source, jsonb_build_object('swept_until', CAST(:until AS text)), now())
    ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
    """
)

# The earliest send still waiting in the rest of the range: the walk crosses a gap (no waiting
# send) in one step. A fresh database (every test's, or a new install) otherwise walked 8 days in
# 1,152 empty transactions, about 2 s at every worker's first housekeeping run, which also held
# up the worker's shutdown. Asked only after an empty window, so dense windows cost nothing more.
_FIRST_WAITING = text(
    "SELECT min(sent_at) FROM notifications"
    " WHERE sent_at > :start AND sent_at <= :cutoff AND status IN ('sending', 'pending')"
)

_TIME_OUT = text(
    f"""
    WITH changed AS (
        UPDATE notifications AS n
        SET status = 'temporary-failure', provider_response = :why, completed_at = now(), updated_at = now()
        WHERE n.sent_at > :start AND n.sent_at <= :end AND n.status IN ('sending', 'pending')
        RETURNING n.id, n.service_id, n.status
    ),
    {enqueue_callbacks_cte("changed")}
    SELECT count(*) FROM changed
    """
)


async def time_out_unanswered(engine: AsyncEngine, *, cutoff: datetime) -> int:
    """Fail everything sent at or before ``cutoff`` that is still waiting; returns how many."""
    total = 0
    skip = True  # look for the next waiting send first, and again after each empty window
    while True:
        async with engine.begin() as conn:
            saved = (await conn.execute(_WATERMARK, {"source": SOURCE})).scalar_one_or_none()
            start = datetime.fromisoformat(saved) if saved else cutoff - FIRST_LOOKBACK
            if start >= cutoff:
                break
            if skip:
                waiting = (await conn.execute(_FIRST_WAITING, {"start": start, "cutoff": cutoff})).scalar_one()
                if waiting is None:  # nothing waits in the rest of the range: sweep it in one step
                    await conn.execute(_SAVE_WATERMARK, {"source": SOURCE, "until": cutoff.isoformat()})
                    break
                start = max(start, waiting - timedelta(microseconds=1))
            end = min(start + WINDOW, cutoff)
            changed = (
                await conn.execute(_TIME_OUT, {"start": start, "end": end, "why": TIMED_OUT})
            ).scalar_one()
            total += changed
            # Dense windows go on window by window; a gap is crossed in one step.
            skip = changed == 0
            await conn.execute(_SAVE_WATERMARK, {"source": SOURCE, "until": end.isoformat()})
    if total:
        logger.info("notifications timed out", action="receipts.timed_out", count=total)
    return total
