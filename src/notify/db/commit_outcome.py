"""Find out whether a transaction committed when its COMMIT went unanswered.

If the connection drops while COMMIT is on the wire, the client cannot know whether the server
committed.  Undoing the side effects that came before (deleting the stored recipient object,
handing back allowance) is only safe once it is certain the rows do not exist: otherwise a
committed notification loses its recipient.  PostgreSQL answers exactly this question
(``pg_xact_status``, the tool its documentation gives for "commit outcome unknown"): a writer
notes its transaction id first thing, and after a failure anyone can ask whether that id
committed, aborted, or is still running (the server has not yet noticed the lost client).

Callers map the three outcomes to: committed, answer as if nothing went wrong; aborted, undo
and fail; unknown, keep everything (the rows may exist) and fail without undoing.
"""

from __future__ import annotations

import asyncio
import enum
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notify.log_config import get_logger

logger = get_logger(__name__)


class CommitOutcome(enum.Enum):
    committed = "committed"
    aborted = "aborted"
    unknown = "unknown"


class CommitOutcomeUnknown(Exception):
    """The rows may or may not have been stored; nothing was undone. The message says what to check."""


async def transaction_id(conn: AsyncConnection) -> int:
    """This transaction's id (assigning one now); call it before the first write."""
    return int(await conn.scalar(text("SELECT pg_current_xact_id()::text::bigint")))


async def commit_outcome(engine: AsyncEngine, xid: int | None, *, wait_seconds: float = 5.0) -> CommitOutcome:
    """Whether transaction ``xid`` committed; ``None`` (no id was taken) means nothing was written.

    A transaction still "in progress" belongs to a backend that has not yet seen its client go; it
    is polled until ``wait_seconds`` pass.  A database that cannot be asked gives ``unknown``.
    """
    if xid is None:
        return CommitOutcome.aborted
    deadline = time.monotonic() + wait_seconds
    delay = 0.01
    while True:
        try:
            async with engine.connect() as conn:
                status = await conn.scalar(text("SELECT pg_xact_status(CAST(CAST(:xid AS text) AS xid8))"), {"xid": xid})
        except Exception as exc:
            logger.warning("commit outcome not readable", action="commit_outcome.unreadable", error=type(exc).__name__)
            status = None
        if status == "committed":
            return CommitOutcome.committed
        if status == "aborted":
            return CommitOutcome.aborted
        if time.monotonic() + delay > deadline:
            return CommitOutcome.unknown
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)
