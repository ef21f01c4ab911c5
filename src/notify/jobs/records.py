"""Job rows: writing a new upload's job, and reading jobs with their progress.

A job row describes its file's *shape* (column names, where every N-th row starts), never its
contents.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.catalogue.templates import TemplateRecord
from notify.db.models import JobKind, JobStatus, KeyType, TemplateType
from notify.recipients.lookup import JobFile
from notify.recipients.spreadsheet import ValidatedFile

_COLUMNS = (
    "j.id, j.service_id, j.kind, j.object_key, j.row_count, j.status, j.template_id, j.template_version, "
    "j.original_file_name, j.created_at, j.scheduled_for, j.processing_started, j.processing_finished, "
    "j.api_key_id, j.key_type, j.sender_id, j.header, j.recipient_column, j.byte_size, j.data_end, "
    "j.row_index_every, j.row_index, j.billable_units, t.template_type"
)
_FROM = "FROM jobs j LEFT JOIN templates t ON t.id = j.template_id"


class JobNotFound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: uuid.UUID
    service_id: uuid.UUID
    kind: JobKind
    object_key: str
    row_count: int
    status: JobStatus
    template_id: uuid.UUID | None
    template_version: int | None
    original_file_name: str | None
    created_at: datetime
    scheduled_for: datetime | None
    processing_started: datetime | None
    processing_finished: datetime | None
    api_key_id: uuid.UUID | None
    key_type: KeyType | None
    sender_id: uuid.UUID | None
    header: list[str] | None
    recipient_column: int | None
    byte_size: int | None
    data_end: int | None
    row_index_every: int | None
    row_index: list[int] | None
    billable_units: int
    template_type: str | None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def row_offsets(self) -> list[tuple[int, int]]:
        """The sparse row index as (row_number, byte_offset) pairs."""
        every = self.row_index_every or 1
        return [(i * every, offset) for i, offset in enumerate(self.row_index or [])]

    @property
    def file(self) -> JobFile:
        return JobFile(
            job_id=self.id,
            kind=self.kind,
            object_key=self.object_key,
            template_type=TemplateType(self.template_type) if self.template_type else None,
            header=self.header or [],
            recipient_column=self.recipient_column or 0,
            row_offsets=self.row_offsets,
            data_end=self.data_end or 0,
            row_count=self.row_count,
        )


def _record(row: object) -> JobRecord:
    values = list(row)  # type: ignore[call-overload]
    values[2] = JobKind(values[2])
    values[5] = JobStatus(values[5])
    values[14] = KeyType(values[14]) if values[14] else None
    return JobRecord(*values)


async def insert_job(
    conn: AsyncConnection,
    *,
    job_id: uuid.UUID,
    service_id: uuid.UUID,
    kind: JobKind,
    object_key: str,
    file: ValidatedFile,
    template: TemplateRecord,
    api_key_id: uuid.UUID | None,
    key_type: KeyType,
    sender_id: uuid.UUID | None,
    original_file_name: str,
    scheduled_for: datetime | None,
    status: JobStatus,
) -> JobRecord:
    every = file.row_offsets[1][0] if len(file.row_offsets) > 1 else max(file.row_count, 1)
    await conn.execute(
        text(
            "INSERT INTO jobs (id, service_id, kind, object_key, row_count, status, template_id, template_version, "
            "original_file_name, scheduled_for, api_key_id, key_type, sender_id, header, recipient_column, "
            "byte_size, data_end, row_index_every, row_index, billable_units) VALUES (:id, :service_id, :kind, "
            ":object_key, :row_count, :status, :template_id, :template_version, :name, :scheduled_for, :api_key_id, "
            ":key_type, :sender_id, CAST(:header AS jsonb), :recipient_column, :byte_size, :data_end, :every, "
            ":row_index, :billable_units)"
        ),
        {
            "id": job_id,
            "service_id": service_id,
            "kind": kind.value,
            "object_key": object_key,
            "row_count": file.row_count,
            "status": status.value,
            "template_id": template.id,
            "template_version": template.version,
            "name": original_file_name[:255],
            "scheduled_for": scheduled_for,
            "api_key_id": api_key_id,
            "key_type": key_type.value,
            "sender_id": sender_id,
            "header": json.dumps(file.header),
            "recipient_column": file.recipient_column,
            "byte_size": file.byte_size,
            "data_end": file.data_end,
            "every": every,
            "row_index": [offset for _, offset in file.row_offsets],
            "billable_units": file.billable_units,
        },
    )
    return await get_job(conn, service_id, job_id, with_counts=False)


async def get_job(
    conn: AsyncConnection, service_id: uuid.UUID | None, job_id: uuid.UUID, *, with_counts: bool = True
) -> JobRecord:
    """``service_id=None`` is for workers, which act on any service's job."""
    row = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} {_FROM} WHERE j.id = :id AND (CAST(:s AS uuid) IS NULL OR j.service_id = :s)"),
            {"id": job_id, "s": service_id},
        )
    ).one_or_none()
    if row is None:
        raise JobNotFound(job_id)
    job = _record(row)
    if with_counts:
        job.counts.update(await status_counts(conn, job_id))
    return job


async def status_counts(conn: AsyncConnection, job_id: uuid.UUID) -> dict[str, int]:
    rows = await conn.execute(
        text("SELECT status, count(*) FROM notifications WHERE job_id = :id GROUP BY status"), {"id": job_id}
    )
    return {status: count for status, count in rows.all()}


async def list_jobs(
    conn: AsyncConnection, service_id: uuid.UUID, *, older_than: uuid.UUID | None, limit: int
) -> list[JobRecord]:
    """Spreadsheet jobs, newest first, keyset-paged like notifications."""
    params: dict[str, object] = {"s": service_id, "limit": limit}
    where = "j.service_id = :s AND j.kind = 'upload'"
    if older_than is not None:
        anchor = (
            await conn.execute(
                text("SELECT created_at FROM jobs WHERE id = :id AND service_id = :s"), {"id": older_than, "s": service_id}
            )
        ).scalar_one_or_none()
        if anchor is None:
            return []
        where += " AND (j.created_at, j.id) < (:at, :anchor)"
        params.update(at=anchor, anchor=older_than)
    rows = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} {_FROM} WHERE {where} ORDER BY j.created_at DESC, j.id DESC LIMIT :limit"), params
        )
    ).all()
    jobs = [_record(r) for r in rows]
    if jobs:
        counts = await conn.execute(
            text(
                "SELECT job_id, status, count(*) FROM notifications WHERE job_id = ANY(:ids) GROUP BY job_id, status"
            ),
            {"ids": [j.id for j in jobs]},
        )
        by_id = {j.id: j for j in jobs}
        for job_id, status, count in counts.all():
            by_id[job_id].counts[status] = count
    return jobs


async def job_files(conn: AsyncConnection, job_ids: set[uuid.UUID]) -> dict[uuid.UUID, JobFile]:
    """How to read each job's recipients (object key and file shape) for a page of notifications."""
    if not job_ids:
        return {}
    rows = (await conn.execute(text(f"SELECT {_COLUMNS} {_FROM} WHERE j.id = ANY(:ids)"), {"ids": list(job_ids)})).all()
    return {job.id: job.file for job in map(_record, rows)}
