"""The database side of a report: which jobs it covers, and their notification rows, chunk by chunk.

A report walks its jobs in order, in chunks of at most ``CHUNK_ROWS`` row numbers. For each chunk
PostgreSQL groups the chunk's notification rows by everything a report shows that is not unique
to a row (template version, key, carrier, status, time, provider response) and returns one result
row per group, with the group's row numbers and client references as arrays. Groups are few: a job's rows
share a template, a key and a creation time, and statuses and carriers repeat. So instead of a
million messages, a 1M-row report is about ten thousand, each of them a batch, and the report
formats the shared cells once per group instead of once per row.

Measured on the benchmark's data (1M rows, 2-core machine), PostgreSQL spends 0.8 to 1 s of CPU
on this, against 1.8 s to hand the same rows over one by one with COPY (BINARY) (and the client
then pays about a microsecond a row to take them), and 3 to 4 s to format them as CSV in SQL
(to_char, CASE and concatenation cost a microsecond or more per row).

Within a chunk the groups come in no particular order; the report sorts the chunk's rows by row
number. Chunks come in order (the unnest's ordinality).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

import pyarrow as pa
from psycopg import AsyncConnection as PgConnection
from psycopg import pq
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.jobs.records import job_files
from notify.recipients.lookup import JobFile
from notify.statuses import Status

# Spreadsheet jobs may start up to this long after they were uploaded (scheduled sends), so a
# report window looks back this much further for the jobs whose rows may fall inside it.
SCHEDULE_HORIZON = timedelta(days=5)
CHUNK_ROWS = 5000
# Result rows (groups) fetched per round trip; one at a time costs more than the database does.
# Fetching several at once needs libpq 17's chunked mode (psycopg-binary ships a newer libpq).
STREAM_ROWS = 256 if pq.version() >= 170000 else 1


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
    rows: int  # rows of this job in the report (an upper bound when filters apply)
    file_name: str | None = None  # the uploaded file's name (the Batch File column)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Rows ``first_row``..``last_row`` of ``jobs[job]``."""

    job: int
    first_row: int
    last_row: int


@dataclass(frozen=True, slots=True)
class RowGroup:
    """What the rows of one group share: every cell but the recipient, row number and client reference.

    (Their notification type is their template's, so it is not part of the group.)
    """

    template_id: uuid.UUID
    template_version: int
    api_key_id: uuid.UUID | None
    carrier: str | None
    status: str
    created_at: datetime
    provider_response: str | None


@dataclass(frozen=True, slots=True)
class ChunkRows:
    """One chunk's rows, group after group: ``rows[i]`` is a row number, in group ``i``'s run.

    Row numbers and references go straight into Arrow arrays, so a chunk waiting in the read-ahead
    is a few buffers rather than thousands of Python objects for the garbage collector to walk.
    """

    groups: list[RowGroup]
    sizes: list[int]  # rows in each group
    rows: pa.Int32Array
    references: pa.StringArray | None  # None when no row has one

    def __len__(self) -> int:
        return len(self.rows)


async def report_jobs(conn: AsyncConnection, scope: ReportScope) -> list[ReportJob]:
    """The jobs a report covers, in job_id order (the order rows are streamed in)."""
    if scope.job_id is not None:
        ids = (
            await conn.execute(
                text("SELECT id, row_count, original_file_name FROM jobs WHERE id = :id AND service_id = :s"),
                {"id": scope.job_id, "s": scope.service_id},
            )
        ).all()
    else:
        assert scope.since is not None
        ids = (
            await conn.execute(
                text(
                    "SELECT id, row_count, original_file_name FROM jobs WHERE service_id = :s AND created_at >= :since "
                    "ORDER BY id"
                ),
                {"s": scope.service_id, "since": scope.since - SCHEDULE_HORIZON},
            )
        ).all()
    files = await job_files(conn, {row.id for row in ids})
    return [
        ReportJob(files[row.id], row.row_count, row.original_file_name)
        for row in sorted(ids, key=lambda r: r.id)
        if row.id in files
    ]


def plan_chunks(jobs: Sequence[ReportJob], chunk_rows: int = CHUNK_ROWS) -> list[Chunk]:
    return [
        Chunk(index, first, min(first + chunk_rows, job.rows) - 1)
        for index, job in enumerate(jobs)
        for first in range(0, job.rows, chunk_rows)
    ]


_GROUPS = """
SELECT c.ord, g.template_id, g.template_version, g.api_key_id, g.carrier, g.status,
       g.created_at, g.provider_response, g.rows, g.refs
FROM unnest(%(jobs)s::uuid[], %(first)s::int4[], %(last)s::int4[])
     WITH ORDINALITY AS c(job_id, first_row, last_row, ord)
CROSS JOIN LATERAL (
    SELECT n.template_id, n.template_version, n.api_key_id, n.carrier, n.status, n.created_at, n.provider_response,
           array_agg(n.job_row_number) AS rows,
           CASE WHEN count(n.client_reference) > 0 THEN array_agg(n.client_reference) END AS refs
    FROM notifications n
    WHERE n.job_id = c.job_id AND n.job_row_number BETWEEN c.first_row AND c.last_row
      AND n.service_id = %(service)s {filters}
    GROUP BY 1, 2, 3, 4, 5, 6, 7
) g
ORDER BY c.ord
"""


async def stream_groups(
    pg: PgConnection, scope: ReportScope, jobs: Sequence[ReportJob], chunks: Sequence[Chunk]
) -> AsyncIterator[tuple[int, ChunkRows]]:
    """``(chunk index, its rows)`` for every chunk that has rows in the report, in order.

    Runs in its own transaction on a dedicated connection. ``enable_sort`` is off in it because
    the planner, which cannot know how many rows a chunk holds, otherwise sorts each chunk to
    group it; hashing is about a third cheaper here.
    """
    filters = ""
    params: dict[str, object] = {
        "jobs": [jobs[chunk.job].file.job_id for chunk in chunks],
        "first": [chunk.first_row for chunk in chunks],
        "last": [chunk.last_row for chunk in chunks],
        "service": scope.service_id,
    }
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
        await pg.execute("SET LOCAL enable_sort = off")
        current = -1
        found: list[tuple[RowGroup, list[int], list[str | None] | None]] = []
        query = _GROUPS.format(filters=filters)
        async for ordinality, *shared, rows, references in pg.cursor(binary=True).stream(query, params, size=STREAM_ROWS):
            index = ordinality - 1
            if index != current:
                if found:
                    yield current, _pack(found)
                if index < current:
                    raise RuntimeError("report chunks arrived out of order")
                current, found = index, []
            found.append((RowGroup(*shared), rows, references))
        if found:
            yield current, _pack(found)


def _pack(found: list[tuple[RowGroup, list[int], list[str | None] | None]]) -> ChunkRows:
    sizes = [len(rows) for _, rows, _ in found]
    references = None
    if any(refs is not None for _, _, refs in found):
        references = pa.array(chain.from_iterable(refs or [None] * len(rows) for _, rows, refs in found), pa.string())
    rows = pa.array(chain.from_iterable(rows for _, rows, _ in found), pa.int32())
    return ChunkRows([group for group, _, _ in found], sizes, rows, references)
