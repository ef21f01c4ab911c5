"""The database side of a report: which jobs it covers, and their notification rows in (job, row) order.

Rows come out of PostgreSQL with COPY … TO STDOUT (CSV), already formatted (labels resolved by
joins, times in the service's timezone), which is several times faster than fetching tuples.
NULLs are left as NULL (CSV writes them unquoted) so most blocks contain no quote at all and take
the fast parse; COPY hands over one message per row, so blocks are gathered to ~256 KB first.
The rows are read in (job_id, job_row_number) order from the unique index on those columns, so
they can be merged with the recipient files job by job without sorting anything in memory.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import AsyncConnection as PgConnection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.jobs.records import job_files
from notify.recipients.lookup import JobFile
from notify.statuses import Status

# Spreadsheet jobs may start up to this long after they were uploaded (scheduled sends), so a
# report window looks back this much further for the jobs whose rows may fall inside it.
SCHEDULE_HORIZON = timedelta(days=5)
GATHER_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ReportScope:
    service_id: uuid.UUID
    since: datetime | None = None  # None: every row still held (job reports)
    statuses: frozenset[Status] = frozenset()
    template_type: str | None = None
    job_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ReportJob:
    file: JobFile
    rows: int  # rows of this job in the report (an upper bound when statuses filter)


async def report_jobs(conn: AsyncConnection, scope: ReportScope) -> list[ReportJob]:
    """The jobs a report covers, in job_id order (the order rows are streamed in)."""
    if scope.job_id is not None:
        ids = (
            await conn.execute(
                text("SELECT id, row_count FROM jobs WHERE id = :id AND service_id = :s"),
                {"id": scope.job_id, "s": scope.service_id},
            )
        ).all()
    else:
        assert scope.since is not None
        ids = (
            await conn.execute(
                text(
                    "SELECT id, row_count FROM jobs WHERE service_id = :s AND created_at >= :since "
                    "ORDER BY id"
                ),
                {"s": scope.service_id, "since": scope.since - SCHEDULE_HORIZON},
            )
        ).all()
    files = await job_files(conn, {row.id for row in ids})
    return [ReportJob(files[row.id], row.row_count) for row in sorted(ids, key=lambda r: r.id) if row.id in files]


_ROWS = """
COPY (
    SELECT n.job_id, n.job_row_number, n.notification_type, v.name,
           COALESCE(k.name, CASE WHEN n.job_kind = 'upload' THEN 'Spreadsheet upload' END),
           n.carrier, n.status,
           to_char(n.created_at, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'),
           j.original_file_name, n.provider_response, n.client_reference
    FROM notifications n
    JOIN jobs j ON j.id = n.job_id
    JOIN template_versions v ON v.template_id = n.template_id AND v.version = n.template_version
    LEFT JOIN api_keys k ON k.id = n.api_key_id
    WHERE n.job_id = ANY(%(jobs)s) AND n.service_id = %(service)s {filters}
    ORDER BY n.job_id, n.job_row_number
) TO STDOUT WITH (FORMAT csv)
"""


async def stream_rows(
    pg: PgConnection, scope: ReportScope, jobs: Sequence[ReportJob], *, timezone: str
) -> AsyncIterator[list[list[str]]]:
    """Batches of rows: [job_id, row, type, template, sent_by, carrier, status, time, file, response, ref].

    Runs in its own transaction on a dedicated connection so ``SET LOCAL TimeZone`` formats the
    times in the service's timezone without affecting anyone else.
    """
    filters = ""
    params: dict[str, object] = {"jobs": [j.file.job_id for j in jobs], "service": scope.service_id}
    if scope.since is not None:
        filters += " AND n.created_at >= %(since)s"
        params["since"] = scope.since
    if scope.statuses:
        filters += " AND n.status = ANY(%(statuses)s)"
        params["statuses"] = sorted(s.value for s in scope.statuses)
    if scope.template_type:
        filters += " AND n.notification_type = %(type)s"
        params["type"] = scope.template_type
    async with pg.transaction():
        await pg.execute("SELECT set_config('TimeZone', %s, true)", [timezone])
        async with pg.cursor().copy(_ROWS.format(filters=filters), params) as copy:
            pending = ""
            gathered: list[bytes] = []
            size = 0
            async for block in copy:
                gathered.append(bytes(block))
                size += len(block)
                if size < GATHER_BYTES:
                    continue
                rows, pending = _parse(pending + b"".join(gathered).decode("utf-8"))
                gathered, size = [], 0
                if rows:
                    yield rows
            tail = pending + b"".join(gathered).decode("utf-8")
            if tail:
                rows, rest = _parse(tail)
                if rest:
                    rows += list(csv.reader(io.StringIO(rest)))
                if rows:
                    yield rows


def _parse(data: str) -> tuple[list[list[str]], str]:
    """Complete records in ``data``, and the text of an unfinished last one."""
    cut = data.rfind("\n") + 1
    if not cut:
        return [], data
    if '"' in data[:cut]:
        # A quoted field may hold a newline: let csv find whole records.
        rows, leftover = _complete_records(data[:cut])
        return rows, leftover + data[cut:]
    return list(csv.reader(io.StringIO(data[:cut]))), data[cut:]


def _complete_records(text_block: str) -> tuple[list[list[str]], str]:
    """Split ``text_block`` into complete CSV records and the start of an unfinished one."""
    lines = text_block.splitlines(keepends=True)
    rows: list[list[str]] = []
    start = 0
    buffer = ""
    for index, line in enumerate(lines):
        buffer += line
        if buffer.count('"') % 2 == 0:
            rows.extend(csv.reader(io.StringIO(buffer)))
            buffer = ""
            start = index + 1
    return rows, "".join(lines[start:])
