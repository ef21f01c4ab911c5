"""Asynchronous report exports, for clients that cannot hold a connection open (GC Notify's v2 reports).

A worker writes the same CSV as the streamed report into object storage with a multipart upload,
chunk by chunk, so the export is never whole in memory.  The export object is recipient data, so
it lives under ``exports/`` and expires: after ``export_ttl_hours`` (24 at most), and never
later than the oldest row it may hold expires under the service's retention (``data_from``, kept
so the sweep also honours a retention shortened afterwards; see notify.retention.exports).

Each export is a full copy of recipients, so a service may have only ``export_max_concurrent``
exports waiting or being written, and request ``export_max_per_day`` per UTC day. Both are
counted in PostgreSQL under a per-service transaction lock, so they hold across API processes
and between racing requests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notify.log_config import get_logger
from notify.retention.expiry import data_expiry, day_start, utc_today
from notify.reports.query import ReportScope
from notify.reports.stream import open_report
from notify.statuses import Status
from notify.storage import ObjectStore, export_key

logger = get_logger(__name__)

PROGRESS_EVERY_BYTES = 4 << 20


class ExportStatus(StrEnum):
    pending = "pending"
    in_progress = "in progress"
    ready = "ready"
    failed = "failed"
    expired = "expired"


class ExportNotFound(Exception):
    pass


class ExportLimitExceeded(Exception):
    """The service has as many exports as it may: in flight at once, or today."""


@dataclass(frozen=True, slots=True)
class ExportLimits:
    max_concurrent: int
    max_per_day: int


@dataclass(frozen=True, slots=True)
class ExportRecord:
    id: uuid.UUID
    service_id: uuid.UUID
    status: ExportStatus
    scope: dict  # type: ignore[type-arg]
    row_count: int | None
    rows_written: int
    estimated_rows: int | None
    object_key: str
    created_at: datetime
    completed_at: datetime | None
    expires_at: datetime
    data_from: datetime | None


_COLUMNS = (
    "id, service_id, status, scope, row_count, rows_written, estimated_rows, object_key, created_at, "
    "completed_at, expires_at, data_from"
)
# One lock per service for creating exports (the first key is this lock's namespace: "exports").
_LOCK = text("SELECT pg_advisory_xact_lock(1702391920, hashtext(CAST(:s AS text)))")
_IN_FLIGHT = (ExportStatus.pending.value, ExportStatus.in_progress.value)


def _record(row: object) -> ExportRecord:
    values = list(row)  # type: ignore[call-overload]
    values[2] = ExportStatus(values[2])
    return ExportRecord(*values)


def scope_to_json(scope: ReportScope) -> dict:  # type: ignore[type-arg]
    return {
        "since": scope.since.isoformat() if scope.since else None,
        "statuses": sorted(s.value for s in scope.statuses),
        "template_type": scope.template_type,
        "job_id": str(scope.job_id) if scope.job_id else None,
    }


def scope_from_json(service_id: uuid.UUID, data: dict) -> ReportScope:  # type: ignore[type-arg]
    return ReportScope(
        service_id=service_id,
        since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
        statuses=frozenset(Status(s) for s in data.get("statuses", [])),
        template_type=data.get("template_type"),
        job_id=uuid.UUID(data["job_id"]) if data.get("job_id") else None,
    )


async def create_export(
    conn: AsyncConnection,
    scope: ReportScope,
    *,
    ttl: timedelta,
    retention_days: int,
    limits: ExportLimits,
    now: datetime,
) -> ExportRecord:
    """Insert the export row, within the service's limits; the caller enqueues its task in the same transaction.

    The lock is held until the caller commits, so a concurrent request counts this row.
    """
    await conn.execute(_LOCK, {"s": scope.service_id})
    await _check_limits(conn, scope.service_id, limits, ttl=ttl, now=now)
    export_id = uuid.uuid4()
    data_from = await _oldest_row(conn, scope, now)
    expires = min(now + ttl, data_expiry(data_from, retention_days))
    row = (
        await conn.execute(
            text(
                "INSERT INTO report_exports (id, service_id, status, scope, rows_written, object_key, created_at, "
                "expires_at, data_from) VALUES (:id, :s, 'pending', CAST(:scope AS jsonb), 0, :key, :now, :expires, "
                f":data_from) RETURNING {_COLUMNS}"
            ),
            {"id": export_id, "s": scope.service_id, "scope": json.dumps(scope_to_json(scope)),
             "key": export_key(scope.service_id, export_id), "now": now, "expires": expires, "data_from": data_from},
        )
    ).one()
    return _record(row)


async def _check_limits(
    conn: AsyncConnection, service_id: uuid.UUID, limits: ExportLimits, *, ttl: timedelta, now: datetime
) -> None:
    day = day_start(utc_today(now))
    # Every export in flight was created within its TTL: older ones have expired, whatever their status.
    in_flight, today = (
        await conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE status = ANY(:in_flight) AND expires_at > :now), "
                "count(*) FILTER (WHERE created_at >= :day) "
                "FROM report_exports WHERE service_id = :s AND created_at >= :oldest"
            ),
            {"s": service_id, "in_flight": list(_IN_FLIGHT), "now": now, "day": day, "oldest": min(day, now - ttl)},
        )
    ).one()
    if today >= limits.max_per_day:
        raise ExportLimitExceeded(
            f"Exceeded the limit of {limits.max_per_day} report exports a day; try again tomorrow (UTC)"
        )
    if in_flight >= limits.max_concurrent:
        raise ExportLimitExceeded(
            f"Exceeded the limit of {limits.max_concurrent} report exports in progress at once; "
            "try again when one is ready"
        )


async def _oldest_row(conn: AsyncConnection, scope: ReportScope, now: datetime) -> datetime:
    """The creation time of the oldest row the export may hold (a lower bound): its retention caps the export.

    Rows created after ``now`` are younger, so with no row yet the export is capped as a row of now.
    A job's rows are never older than the job (index lookups only).
    """
    if scope.job_id is not None:
        found = (
            await conn.execute(
                text("SELECT created_at FROM jobs WHERE id = :j AND service_id = :s"),
                {"j": scope.job_id, "s": scope.service_id},
            )
        ).scalar_one_or_none()
    else:
        found = (
            await conn.execute(
                text("SELECT min(created_at) FROM notifications WHERE service_id = :s AND created_at >= :since"),
                {"s": scope.service_id, "since": scope.since or datetime.min.replace(tzinfo=UTC)},
            )
        ).scalar_one_or_none()
    return min(found, now) if found is not None else now


async def get_export(conn: AsyncConnection, service_id: uuid.UUID | None, export_id: uuid.UUID) -> ExportRecord:
    row = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} FROM report_exports WHERE id = :id AND (CAST(:s AS uuid) IS NULL OR service_id = :s)"),
            {"id": export_id, "s": service_id},
        )
    ).one_or_none()
    if row is None:
        raise ExportNotFound(export_id)
    return _record(row)


async def write_export(engine: AsyncEngine, store: ObjectStore, export_id: uuid.UUID) -> None:
    """The worker task: stream the report into storage. Idempotent: a retry rewrites the object."""
    async with engine.begin() as conn:
        export = await get_export(conn, None, export_id)
        if export.status not in (ExportStatus.pending, ExportStatus.in_progress):
            return
        if export.expires_at <= datetime.now(UTC):
            await _set(conn, export_id, ExportStatus.expired)
            return
        await _set(conn, export_id, ExportStatus.in_progress)
    scope = scope_from_json(export.service_id, export.scope)
    report = await open_report(engine, store, scope, filename=export.object_key.rsplit("/", 1)[-1])
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE report_exports SET estimated_rows = :n WHERE id = :id"),
            {"n": report.estimated_rows, "id": export_id},
        )

    async def with_progress() -> AsyncIterator[bytes]:
        since_progress = 0
        async for chunk in report.chunks:
            since_progress += len(chunk)
            if since_progress >= PROGRESS_EVERY_BYTES:
                since_progress = 0
                async with engine.begin() as conn:
                    await conn.execute(
                        text("UPDATE report_exports SET rows_written = :n WHERE id = :id"),
                        {"n": report.rows_written, "id": export_id},
                    )
            yield chunk

    try:
        await store.put_stream(export.object_key, with_progress())
    except Exception:
        async with engine.begin() as conn:
            await _set(conn, export_id, ExportStatus.failed)
        logger.exception("export failed", action="export.failed", export_id=str(export_id))
        raise
    rows = report.rows_written
    async with engine.begin() as conn:
        finished = await conn.execute(
            text(
                "UPDATE report_exports SET status = 'ready', rows_written = :n, row_count = :n, "
                "completed_at = now() WHERE id = :id AND status = 'in progress'"
            ),
            {"n": rows, "id": export_id},
        )
    if finished.rowcount == 0:  # the sweep expired it while it was being written: it must not stay
        await store.delete(export.object_key)
        logger.info("export expired while written", action="export.expired_unfinished", export_id=str(export_id))
        return
    logger.info("export ready", action="export.ready", export_id=str(export_id), rows=rows)


async def _set(conn: AsyncConnection, export_id: uuid.UUID, status: ExportStatus) -> None:
    await conn.execute(
        text("UPDATE report_exports SET status = :st WHERE id = :id"), {"st": status.value, "id": export_id}
    )
