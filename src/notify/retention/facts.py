"""Roll notifications up into ``ft_notification_status``: daily counts that outlive the rows.

A (service, UTC day) is recomputed whole from its notifications while the day is complete but
not yet expired, so late status changes still reach the facts (``count = EXCLUDED.count``, and
groups no row belongs to any more are removed): reruns converge on the same counts.

When the day has expired it is recomputed one last time and *closed* (``ft_closed_days``) in
the same statement. Only closed days may lose rows (see :mod:`notify.retention.purge`), and a
closed day is never recomputed, so a day half-deleted by an interrupted run can never overwrite
its facts with smaller counts, and a day with no rows left is never touched at all.

Functions here take the caller's connection and never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.retention.expiry import day_start, expiry_cutoff, retention_days

__all__ = ["DayRollup", "ServiceRetention", "closed_days", "next_day_with_rows", "roll_up_day", "service_retentions"]


@dataclass(frozen=True, slots=True)
class ServiceRetention:
    service_id: uuid.UUID
    days: int
    cutoff: datetime

    @property
    def cutoff_day(self) -> date:
        """The first day that is kept; every earlier day has expired."""
        return self.cutoff.date()


@dataclass(frozen=True, slots=True)
class DayRollup:
    upserted: int
    removed: int
    closed: bool


async def service_retentions(conn: AsyncConnection, now: datetime) -> list[ServiceRetention]:
    rows = (await conn.execute(text("SELECT id, data_retention_days FROM services ORDER BY id"))).all()
    return [
        ServiceRetention(service_id, retention_days(days), expiry_cutoff(now, retention_days(days)))
        for service_id, days in rows
    ]


async def closed_days(conn: AsyncConnection, service_id: uuid.UUID) -> set[date]:
    rows = await conn.execute(text("SELECT day FROM ft_closed_days WHERE service_id = :s"), {"s": service_id})
    return set(rows.scalars())


async def next_day_with_rows(
    conn: AsyncConnection, service_id: uuid.UUID, *, after: date | None, before: date
) -> date | None:
    """The first UTC day after ``after`` and before ``before`` that has notifications (index range scan)."""
    first = (
        await conn.execute(
            text(
                "SELECT min(created_at) FROM notifications "
                "WHERE service_id = :s AND created_at >= :start AND created_at < :end"
            ),
            {
                "s": service_id,
                "start": day_start(after + timedelta(days=1)) if after else datetime.min.replace(tzinfo=UTC),
                "end": day_start(before),
            },
        )
    ).scalar_one_or_none()
    return first.astimezone(UTC).date() if first is not None else None


_ROLL_UP_DAY = text(
    """
    WITH gate AS (
        SELECT NOT EXISTS (SELECT 1 FROM ft_closed_days WHERE service_id = :s AND day = :d) AS open
    ), fresh AS (
        SELECT template_id, job_id, notification_type, key_type, status, count(*) AS count
        FROM notifications
        WHERE service_id = :s AND created_at >= :start AND created_at < :end AND (SELECT open FROM gate)
        GROUP BY template_id, job_id, notification_type, key_type, status
    ), upserted AS (
        INSERT INTO ft_notification_status AS ft
            (day, service_id, template_id, job_id, notification_type, key_type, status, count)
        SELECT CAST(:d AS date), :s, template_id, job_id, notification_type, key_type, status, count FROM fresh
        ON CONFLICT (day, service_id, template_id, job_id, notification_type, key_type, status)
        DO UPDATE SET count = EXCLUDED.count WHERE ft.count <> EXCLUDED.count
        RETURNING 1
    ), removed AS (
        DELETE FROM ft_notification_status ft
        WHERE ft.day = :d AND ft.service_id = :s AND EXISTS (SELECT 1 FROM fresh)
          AND NOT EXISTS (
            SELECT 1 FROM fresh f
            WHERE (f.template_id, f.job_id, f.notification_type, f.key_type, f.status)
                = (ft.template_id, ft.job_id, ft.notification_type, ft.key_type, ft.status)
          )
        RETURNING 1
    ), closed AS (
        INSERT INTO ft_closed_days (service_id, day, closed_at)
        SELECT :s, CAST(:d AS date), :now WHERE CAST(:close AS boolean) AND EXISTS (SELECT 1 FROM fresh)
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM removed), (SELECT count(*) FROM closed)
    """
)


async def roll_up_day(
    conn: AsyncConnection, service_id: uuid.UUID, day: date, *, close: bool, now: datetime
) -> DayRollup:
    """Recompute one complete day's facts from its rows, unless the day is already closed.

    ``close`` (the day has expired) closes it in the same statement, so the facts that let its
    rows be deleted are the ones computed from all of them. One statement means one snapshot:
    a concurrent run that closes the day and deletes rows cannot interleave with the counting.
    """
    upserted, removed, closed = (
        await conn.execute(
            _ROLL_UP_DAY,
            {
                "s": service_id,
                "d": day,
                "start": day_start(day),
                "end": day_start(day + timedelta(days=1)),
                "close": close,
                "now": now,
            },
        )
    ).one()
    return DayRollup(upserted=upserted, removed=removed, closed=bool(closed))
