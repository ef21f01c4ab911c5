"""The nightly retention run: roll up, then delete rows, then delete objects.

Order matters and is enforced twice: every service's days are rolled up (and expired days
closed) before any row is deleted, and the delete statement itself only takes rows of closed
days. Each step is a bounded batch in its own short transaction, so a run can stop anywhere and
the next run (or a rerun of the same night) carries on and converges; a rerun changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from notify.log_config import get_logger
from notify.retention.expiry import utc_today
from notify.retention.exports import DEFAULT_EXPORT_TTL_HOURS, delete_expired_exports, expire_exports
from notify.retention.facts import (
    ServiceRetention,
    closed_days,
    next_day_with_rows,
    roll_up_day,
    service_retentions,
)
from notify.retention.purge import (
    archivable_jobs,
    delete_expired_notifications,
    mark_jobs_archived,
)
from notify.storage import ObjectStore

__all__ = ["RetentionReport", "run_retention", "sweep_exports"]

logger = get_logger(__name__)

DELETE_BATCH = 10_000
JOB_BATCH = 500


@dataclass
class RetentionReport:
    now: datetime
    services: int = 0
    facts_upserted: int = 0
    facts_removed: int = 0
    days_closed: int = 0
    notifications_deleted: int = 0
    jobs_archived: int = 0
    upload_objects_deleted: int = 0
    export_objects_deleted: int = 0

    @property
    def objects_deleted(self) -> int:
        return self.upload_objects_deleted + self.export_objects_deleted

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "now": self.now.isoformat(), "objects_deleted": self.objects_deleted}


async def run_retention(
    engine: AsyncEngine,
    store: ObjectStore,
    *,
    now: datetime,
    export_ttl_hours: float = DEFAULT_EXPORT_TTL_HOURS,
    batch_size: int = DELETE_BATCH,
) -> RetentionReport:
    """Apply every service's retention as of ``now`` (timezone-aware; injectable for tests)."""
    now = now.astimezone(UTC)
    report = RetentionReport(now=now)
    async with engine.connect() as conn:
        services = await service_retentions(conn, now)
    report.services = len(services)

    for service in services:  # 1. facts first, for every service
        await _roll_up_service(engine, service, now, report)
    for service in services:  # 2. then rows, only of closed days
        await _delete_notifications(engine, service, batch_size, report)
    for service in services:  # 3. then the objects of jobs with no rows left
        await _archive_jobs(engine, store, service, now, report)
    report.export_objects_deleted = await _sweep(  # 4. and expired exports
        engine, store, services, now=now, ttl_hours=export_ttl_hours
    )
    logger.info("retention run finished", action="retention.finished", **report.as_dict())
    return report


async def sweep_exports(
    engine: AsyncEngine, store: ObjectStore, *, now: datetime, ttl_hours: float = DEFAULT_EXPORT_TTL_HOURS
) -> int:
    """Only step 4 of the nightly run: cheap enough to run every minute, so exports go at their expiry."""
    now = now.astimezone(UTC)
    async with engine.connect() as conn:
        services = await service_retentions(conn, now)
    deleted = await _sweep(engine, store, services, now=now, ttl_hours=ttl_hours)
    if deleted:
        logger.info("expired exports deleted", action="retention.exports_deleted", objects=deleted)
    return deleted


async def _sweep(
    engine: AsyncEngine, store: ObjectStore, services: list[ServiceRetention], *, now: datetime, ttl_hours: float
) -> int:
    """Exports by their rows first (expiry, data retention), then any object left by its age."""
    cutoffs = {s.service_id: s.cutoff for s in services}
    by_row = await expire_exports(engine, store, now=now, cutoffs=cutoffs)
    return by_row + await delete_expired_exports(store, now=now, cutoffs=cutoffs, ttl_hours=ttl_hours)


async def _roll_up_service(engine: AsyncEngine, service: ServiceRetention, now: datetime, report: RetentionReport) -> None:
    today = utc_today(now)
    async with engine.connect() as conn:
        closed = await closed_days(conn, service.service_id)
    day: date | None = None
    while True:
        async with engine.begin() as conn:
            day = await next_day_with_rows(conn, service.service_id, after=day, before=today)
            if day is None:
                return
            if day in closed:
                continue
            rollup = await roll_up_day(conn, service.service_id, day, close=day < service.cutoff_day, now=now)
        report.facts_upserted += rollup.upserted
        report.facts_removed += rollup.removed
        report.days_closed += rollup.closed
        if rollup.upserted or rollup.removed or rollup.closed:
            logger.info(
                "facts rolled up", action="retention.rolled_up", service_id=str(service.service_id),
                day=day.isoformat(), upserted=rollup.upserted, removed=rollup.removed, closed=rollup.closed,
            )


async def _delete_notifications(
    engine: AsyncEngine, service: ServiceRetention, batch_size: int, report: RetentionReport
) -> None:
    deleted = 0
    while True:
        async with engine.begin() as conn:
            batch = await delete_expired_notifications(conn, service.service_id, service.cutoff, limit=batch_size)
        deleted += batch
        if batch == 0:
            break
    report.notifications_deleted += deleted
    if deleted:
        logger.info(
            "expired notifications deleted", action="retention.notifications_deleted",
            service_id=str(service.service_id), cutoff=service.cutoff.isoformat(), deleted=deleted,
        )


async def _archive_jobs(
    engine: AsyncEngine, store: ObjectStore, service: ServiceRetention, now: datetime, report: RetentionReport
) -> None:
    archived: list[uuid.UUID] = []
    while True:
        async with engine.connect() as conn:
            jobs = await archivable_jobs(conn, service.service_id, service.cutoff, limit=JOB_BATCH)
        if not jobs:
            break
        await store.delete_many(job.object_key for job in jobs)  # before the mark: a crash here re-deletes
        report.upload_objects_deleted += len(jobs)
        async with engine.begin() as conn:
            report.jobs_archived += await mark_jobs_archived(conn, [job.id for job in jobs], now)
        archived += [job.id for job in jobs]
    if archived:
        logger.info(
            "expired job objects deleted", action="retention.jobs_archived",
            service_id=str(service.service_id), jobs=len(archived),
        )
