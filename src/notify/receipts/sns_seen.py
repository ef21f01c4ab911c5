"""SNS message ids already accepted: the replay guard, and its purge.

A validly signed message can be captured and posted again; its id is recorded in the transaction
that applies it, so a second copy finds the row and is refused. An id needs keeping only while
its message could still pass the age check (``Timestamp`` within the max age, plus the allowed
clock skew); older rows are purged in small batches.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_MARK = text(
    "INSERT INTO sns_messages_seen (message_id) SELECT unnest(CAST(:ids AS text[])) "
    "ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
)

# SKIP LOCKED: several API processes may purge at once without queueing behind each other.
_PURGE = text(
    """
    DELETE FROM sns_messages_seen
    WHERE message_id IN (
        SELECT message_id FROM sns_messages_seen
        WHERE received_at < now() - CAST(:keep_seconds AS double precision) * interval '1 second'
        ORDER BY received_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    """
)


async def mark_seen(conn: AsyncConnection, message_ids: Sequence[str]) -> set[str]:
    """Record ids on the caller's transaction; returns those not seen before.

    A concurrent transaction inserting the same id waits for this one, then finds it seen, so
    exactly one copy of a message is ever applied.
    """
    if not message_ids:
        return set()
    result = await conn.execute(_MARK, {"ids": list(message_ids)})
    return set(result.scalars())


async def purge_seen(engine: AsyncEngine, *, keep_seconds: float, batch_size: int = 10_000, max_batches: int = 10) -> int:
    """Delete ids older than ``keep_seconds``, a bounded batch per short transaction."""
    deleted = 0
    for _ in range(max_batches):
        async with engine.begin() as conn:
            batch = (await conn.execute(_PURGE, {"keep_seconds": keep_seconds, "limit": batch_size})).rowcount
        deleted += batch
        if batch < batch_size:
            break
    return deleted
