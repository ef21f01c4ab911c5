"""Start, finish and cancel spreadsheet jobs.

Starting a job creates every notification at once inside PostgreSQL (one INSERT … SELECT over
generate_series, with ids derived from (job, row) so a retry creates nothing twice: 96 bits
from a hash of the job id, then the row number, so one job's ids are adjacent in the index) and enqueues
one delivery task per chunk of rows, all in the transaction that moves the job to 'in progress'.
None of it needs the file: rows are addressed by number, and recipients are read only when sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notify.callbacks.outbox import enqueue_callbacks_cte
from notify.db.models import JobStatus
from notify.jobs.records import JobNotFound, get_job
from notify.log_config import get_logger
from notify.sending import allowance
from notify.storage import ObjectStore

logger = get_logger(__name__)

DeferChunk = Callable[[AsyncConnection, uuid.UUID, int, int], Awaitable[None]]

_CLAIM_START = text(
    "UPDATE jobs SET status = 'in progress', processing_started = now(), updated_at = now() "
    "WHERE id = :id AND status IN ('pending', 'scheduled') "
    "RETURNING service_id, row_count, template_id, template_version, api_key_id, key_type, sender_id"
)

_CREATE_NOTIFICATIONS = text(
    """
    INSERT INTO notifications (id, service_id, job_id, job_row_number, job_kind, template_id, template_version,
                               notification_type, api_key_id, key_type, sender_id, status, created_at)
    SELECT CAST(substr(md5(CAST(:job_id AS text)), 1, 24) || lpad(to_hex(n), 8, '0') AS uuid),
           :service_id, :job_id, n, 'upload', :template_id,
           :template_version, :notification_type, :api_key_id, :key_type, :sender_id, 'created', now()
    FROM generate_series(0, :row_count - 1) AS n
    ON CONFLICT (job_id, job_row_number) DO NOTHING
    """
)


async def start_job(
    engine: AsyncEngine, store: ObjectStore, job_id: uuid.UUID, chunk_rows: int, defer_chunk: DeferChunk
) -> bool:
    """Idempotent: only the first call for a pending or scheduled job does anything.

    A job whose file has gone (deleted by hand, or a lifecycle rule shorter than the schedule)
    moves to 'error' instead of sending nothing to everyone.
    """
    async with engine.connect() as conn:
        key = (await conn.execute(text("SELECT object_key FROM jobs WHERE id = :id"), {"id": job_id})).scalar_one_or_none()
    if key is None:
        return False
    if not await store.exists(key):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE jobs SET status = 'error', processing_finished = now(), updated_at = now() "
                    "WHERE id = :id AND status IN ('pending', 'scheduled')"
                ),
                {"id": job_id},
            )
        logger.error("job file missing", action="job.file_missing", job_id=str(job_id))
        return False
    async with engine.begin() as conn:
        claimed = (await conn.execute(_CLAIM_START, {"id": job_id})).one_or_none()
        if claimed is None:
            return False
        kind = (
            await conn.execute(text("SELECT template_type FROM templates WHERE id = :id"), {"id": claimed.template_id})
        ).scalar_one()
        await conn.execute(
            _CREATE_NOTIFICATIONS,
            {
                "job_id": job_id,
                "service_id": claimed.service_id,
                "template_id": claimed.template_id,
                "template_version": claimed.template_version,
                "notification_type": kind,
                "api_key_id": claimed.api_key_id,
                "key_type": claimed.key_type,
                "sender_id": claimed.sender_id,
                "row_count": claimed.row_count,
            },
        )
        ranges = [(first, min(first + chunk_rows, claimed.row_count) - 1) for first in range(0, claimed.row_count, chunk_rows)]
        await conn.execute(
            text("INSERT INTO job_chunks (job_id, first_row, last_row) SELECT :id, f, l FROM unnest(:f, :l) AS r(f, l)"),
            {"id": job_id, "f": [r[0] for r in ranges], "l": [r[1] for r in ranges]},
        )
        for first, last in ranges:
            await defer_chunk(conn, job_id, first, last)
    logger.info("job started", action="job.started", job_id=str(job_id), rows=claimed.row_count, chunks=len(ranges))
    return True


_FINISH_IF_DONE = text(
    "UPDATE jobs SET status = 'finished', processing_finished = now(), updated_at = now() "
    "WHERE id = :id AND status = 'in progress' "
    "AND NOT EXISTS (SELECT 1 FROM job_chunks WHERE job_id = :id AND NOT done)"
)


async def finish_chunk(conn: AsyncConnection, job_id: uuid.UUID, first_row: int) -> bool:
    """Mark a chunk delivered; the last one finishes the job. Returns True if the job finished.

    The job row is locked first.  Without the lock, two last chunks finishing at once under READ
    COMMITTED each marked their own chunk and each still saw the other's as not done, so neither
    finished the job and it stayed 'in progress' for good (2 jobs in 200 with several workers).
    With it they take turns, and the second's statements see the first's committed chunk.
    """
    await conn.execute(text("SELECT 1 FROM jobs WHERE id = :id FOR UPDATE"), {"id": job_id})
    await conn.execute(
        text("UPDATE job_chunks SET done = true WHERE job_id = :id AND first_row = :first"),
        {"id": job_id, "first": first_row},
    )
    finished = await conn.execute(_FINISH_IF_DONE, {"id": job_id})
    return finished.rowcount > 0


_SWEEP_FINISHED = text(
    """
    UPDATE jobs AS j SET status = 'finished', processing_finished = now(), updated_at = now()
    WHERE j.status = 'in progress' AND j.kind = 'upload'
      AND EXISTS (SELECT 1 FROM job_chunks AS c WHERE c.job_id = j.id)
      AND NOT EXISTS (SELECT 1 FROM job_chunks AS c WHERE c.job_id = j.id AND NOT c.done)
    RETURNING j.id
    """
)


async def finish_done_jobs(engine: AsyncEngine) -> int:
    """Backstop for ``finish_chunk``: finish any running job whose chunks are all done.

    ``finish_chunk`` is race-free on its own; this catches whatever else could leave a job
    behind (a job whose last chunk was marked done by hand, or by an older release that had the
    race).  It runs as a periodic worker task; idempotent, and cheap while few jobs are running.
    """
    async with engine.begin() as conn:
        finished = (await conn.execute(_SWEEP_FINISHED)).scalars().all()
    for job_id in finished:
        logger.warning("job finished by the sweep", action="job.finished_by_sweep", job_id=str(job_id))
    return len(finished)


class JobNotCancellable(Exception):
    def __init__(self, status: JobStatus) -> None:
        super().__init__(f"Job is {status.value} and can no longer be cancelled")
        self.status = status


# 'cancelled' is a final status, so it queues the delivery-status callback as every other final
# status does (GOV.UK Notify sends none for cancelled letters; one rule for every final status
# means a service that tracks messages through callbacks learns what became of each one).
_CANCEL_UNSENT = text(
    f"""
    WITH changed AS (
        UPDATE notifications SET status = 'cancelled', completed_at = now(), updated_at = now()
        WHERE job_id = :id AND status = 'created'
        RETURNING id, service_id, status
    ),
    {enqueue_callbacks_cte("changed")}
    SELECT count(*) FROM changed
    """
)


async def cancel_job(engine: AsyncEngine, service_id: uuid.UUID, job_id: uuid.UUID) -> int:
    """Cancel a scheduled, pending or running job; messages not yet handed to a provider are not sent.

    Returns how many notifications were cancelled. Unsent rows go back to today's allowance.
    """
    async with engine.begin() as conn:
        job = await get_job(conn, service_id, job_id, with_counts=False)
        moved = await conn.execute(
            text(
                "UPDATE jobs SET status = 'cancelled', processing_finished = now(), updated_at = now() "
                "WHERE id = :id AND status IN ('pending', 'scheduled', 'in progress')"
            ),
            {"id": job_id},
        )
        if moved.rowcount == 0:
            raise JobNotCancellable(job.status)
        cancelled = (await conn.execute(_CANCEL_UNSENT, {"id": job_id})).scalar_one()
        never_created = job.row_count if job.status in (JobStatus.pending, JobStatus.scheduled) else 0
        unsent = cancelled + never_created
        if job.key_type is not None and job.key_type.value != "test" and unsent:
            await allowance.release_daily(conn, service_id, unsent, now=job.created_at)
    logger.info("job cancelled", action="job.cancelled", job_id=str(job_id), unsent=unsent)
    return unsent


__all__ = ["JobNotCancellable", "JobNotFound", "cancel_job", "finish_chunk", "finish_done_jobs", "start_job"]
