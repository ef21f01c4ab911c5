"""Asynchronous report exports, for clients that cannot hold a connection open (GC Notify's v2 reports).

A worker writes the same CSV as the streamed report into object storage with a multipart upload,
chunk by chunk, so the export is never whole in memory.  The export object is recipient data, so
it lives under ``exports/`` and expires: after ``export_ttl_hours`` (24 by default), and never
later than the oldest of its rows would expire under the service's retention.
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


_COLUMNS = (
    "id, service_id, status, scope, row_count, rows_written, estimated_rows, object_key, created_at, "
    "completed_at, expires_at"
)


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
    conn: AsyncConnection, scope: ReportScope, *, ttl: timedelta, retention_days: int, now: datetime
) -> ExportRecord:
    """Insert the export row; the caller enqueues its task in the same transaction."""
    export_id = uuid.uuid4()
    expires = min(now + ttl, now + timedelta(days=retention_days))
    row = (
        await conn.execute(
            text(
                "INSERT INTO report_exports (id, service_id, status, scope, rows_written, object_key, created_at, "
                f"expires_at) VALUES (:id, :s, 'pending', CAST(:scope AS jsonb), 0, :key, :now, :expires) "
                f"RETURNING {_COLUMNS}"
            ),
            {"id": export_id, "s": scope.service_id, "scope": json.dumps(scope_to_json(scope)),
             "key": export_key(scope.service_id, export_id), "now": now, "expires": expires},
        )
    ).one()
    return _record(row)


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
        await conn.execute(
            text(
                "UPDATE report_exports SET status = 'ready', rows_written = :n, row_count = :n, "
                "completed_at = now() WHERE id = :id"
            ),
            {"n": rows, "id": export_id},
        )
    logger.info("export ready", action="export.ready", export_id=str(export_id), rows=rows)


async def _set(conn: AsyncConnection, export_id: uuid.UUID, status: ExportStatus) -> None:
    await conn.execute(
        text("UPDATE report_exports SET status = :st WHERE id = :id"), {"st": status.value, "id": export_id}
    )
