"""Deleting what has expired: notification rows, and the jobs' recipient objects.

- Notifications are deleted in bounded batches, and only on days closed by the roll-up
  (:mod:`notify.retention.facts`), so no row is ever deleted before its day's facts are final.
- A job's object is deleted once ``coalesce(scheduled_for, created_at)`` is before the cutoff
  and none of its notifications remain; the job row stays and is marked ``archived_at`` so
  retention never visits it again. The mark also drops what the row kept of the uploaded file:
  its name and its header row, which a team chose and which may name the people in it (a file
  called after a family, a column called after a case), so nothing of the file outlives it. The object is deleted *before* the mark
  is committed: a run interrupted in between deletes it again next time (deletes are idempotent).

Functions here take the caller's connection and never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["ExpiredJob", "archivable_jobs", "delete_expired_notifications", "mark_jobs_archived"]

_DELETE_EXPIRED = text(
    """
    WITH doomed AS (
        SELECT n.id FROM notifications n
        WHERE n.service_id = :s AND n.created_at < :cutoff
          AND EXISTS (
            SELECT 1 FROM ft_closed_days c
            WHERE c.service_id = n.service_id AND c.day = CAST(n.created_at AT TIME ZONE 'UTC' AS date)
          )
        LIMIT :limit
        FOR UPDATE OF n SKIP LOCKED
    )
    DELETE FROM notifications WHERE id IN (SELECT id FROM doomed)
    """
)


async def delete_expired_notifications(
    conn: AsyncConnection, service_id: uuid.UUID, cutoff: datetime, *, limit: int
) -> int:
    """Delete up to ``limit`` of the service's notifications created before ``cutoff``; return how many.

    Rows locked by a concurrent update (a late receipt) are skipped, and left for the next run.
    """
    result = await conn.execute(_DELETE_EXPIRED, {"s": service_id, "cutoff": cutoff, "limit": limit})
    return result.rowcount


@dataclass(frozen=True, slots=True)
class ExpiredJob:
    id: uuid.UUID
    object_key: str


async def archivable_jobs(
    conn: AsyncConnection, service_id: uuid.UUID, cutoff: datetime, *, limit: int
) -> list[ExpiredJob]:
    """Up to ``limit`` of the service's unarchived jobs whose data has expired and whose rows are all gone."""
    rows = await conn.execute(
        text(
            "SELECT j.id, j.object_key FROM jobs j "
            "WHERE j.service_id = :s AND j.archived_at IS NULL AND j.created_at < :cutoff "
            "AND coalesce(j.scheduled_for, j.created_at) < :cutoff "
            "AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.job_id = j.id) "
            "ORDER BY j.created_at, j.id LIMIT :limit"
        ),
        {"s": service_id, "cutoff": cutoff, "limit": limit},
    )
    return [ExpiredJob(job_id, key) for job_id, key in rows.all()]


async def mark_jobs_archived(conn: AsyncConnection, job_ids: list[uuid.UUID], now: datetime) -> int:
    result = await conn.execute(
        text(
            "UPDATE jobs SET archived_at = :now, original_file_name = NULL, header = NULL "
            "WHERE id = ANY(:ids) AND archived_at IS NULL"
        ),
        {"now": now, "ids": job_ids},
    )
    return result.rowcount
