"""The streaming merge: notification rows in (job, row) order, joined to their recipient files.

Three things run at once, each bounded:

* the database side (:func:`~notify.reports.query.stream_groups`) runs ahead of the writer by at
  most ``READ_AHEAD_ROWS`` rows, on its own connection;
* as soon as a job shows up there, its recipient file is requested
  (:class:`~notify.reports.recipient_files.RecipientFiles`), so reads overlap with everything else;
* the writer (:class:`~notify.reports.render.ChunkWriter`) turns chunk after chunk into CSV.

Nothing is cached and nothing is written anywhere but the output stream; a job's file is dropped
as soon as the writer moves past the job. Memory is bounded by the read-ahead, however long the
report. The header goes out before any of this starts, so the first byte never waits for data.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from psycopg import AsyncConnection as PgConnection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.db.models import JobKind
from notify.reports.cells import csv_row
from notify.reports.columns import UTF8_BOM, header
from notify.reports.details import RowDetails, load_row_details
from notify.reports.query import Chunk, ChunkRows, ReportJob, ReportScope, plan_chunks, report_jobs, stream_groups
from notify.reports.recipient_files import RecipientFiles
from notify.reports.render import ChunkWriter, Part
from notify.storage import ObjectStore

READ_AHEAD_ROWS = 100_000
# Small chunks (API batches of a few dozen rows) are written together, up to this many rows.
BATCH_ROWS = 5000
OUTPUT_BYTES = 512 * 1024


@dataclass
class ReportStream:
    """A report ready to stream: its file name and row estimate are known before the first byte.

    ``rows_written`` counts data rows as they are yielded (exports report progress from it).
    """

    filename: str
    estimated_rows: int
    chunks: AsyncIterator[bytes] = field(init=False)
    rows_written: int = 0


async def open_report(
    engine: AsyncEngine, store: ObjectStore, scope: ReportScope, *, filename: str
) -> ReportStream:
    async with engine.connect() as conn:
        jobs = await report_jobs(conn, scope)
        timezone = (
            await conn.execute(text("SELECT timezone FROM services WHERE id = :id"), {"id": scope.service_id})
        ).scalar_one()
        details = await load_row_details(conn, scope.service_id, timezone)
    report = ReportStream(filename, sum(j.rows for j in jobs))
    report.chunks = _generate(engine, store, scope, jobs, details, report)
    return report


async def _generate(
    engine: AsyncEngine,
    store: ObjectStore,
    scope: ReportScope,
    jobs: list[ReportJob],
    details: RowDetails,
    report: ReportStream,
) -> AsyncIterator[bytes]:
    job_report = scope.job_id is not None and bool(jobs) and jobs[0].file.kind is JobKind.upload
    file_columns: list[str] = []
    if job_report:
        skip = jobs[0].file.recipient_column
        file_columns = [c for i, c in enumerate(jobs[0].file.header) if i != skip]
    template_type = scope.template_type or (jobs[0].file.template_type.value if job_report and jobs[0].file.template_type else None)
    yield (UTF8_BOM + csv_row(header(template_type, file_columns))).encode("utf-8")
    if not jobs:
        return

    chunks = plan_chunks(jobs)
    files = RecipientFiles(store, jobs, other_columns=job_report)
    writer = ChunkWriter(details, other_columns=len(file_columns))
    ahead = _ReadAhead(READ_AHEAD_ROWS)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        reader = asyncio.ensure_future(_read(raw.driver_connection, scope, jobs, chunks, files, ahead))
        finished = False
        try:
            pending: list[memoryview] = []
            size = 0
            while batch := await ahead.take(BATCH_ROWS):
                parts = [Part(jobs[chunk.job], rows, await files.get(chunk.job)) for chunk, rows in batch]
                files.release_before(batch[-1][0].job)
                data, rows = writer.write(parts)
                ahead.done(rows)
                report.rows_written += rows
                pending.append(data)
                size += data.nbytes
                if size >= OUTPUT_BYTES or ahead.empty():
                    yield b"".join(pending)
                    pending, size = [], 0
            if pending:
                yield b"".join(pending)
            await reader
            finished = True
        finally:
            files.close()
            if not finished:
                # Stopped mid-query (client gone, or an error): the connection may still be
                # streaming, so it is closed rather than handed back to the pool.
                reader.cancel()
                await asyncio.wait([reader], timeout=5)
                await conn.invalidate()


async def _read(
    pg: PgConnection,
    scope: ReportScope,
    jobs: Sequence[ReportJob],
    chunks: Sequence[Chunk],
    files: RecipientFiles,
    ahead: _ReadAhead,
) -> None:
    """Feed chunks to the writer, asking for each job's file as soon as the job shows up."""
    try:
        async for index, rows in stream_groups(pg, scope, jobs, chunks):
            chunk = chunks[index]
            files.want(chunk.job)
            await ahead.put(chunk, rows)
    except BaseException as exc:
        ahead.fail(exc)
        raise
    ahead.close()


class _ReadAhead:
    """A queue of chunks bounded by the rows in it (one chunk always fits). One event loop, no locks."""

    def __init__(self, max_rows: int) -> None:
        self._max_rows = max_rows
        self._rows = 0
        self._items: asyncio.Queue[tuple[Chunk, ChunkRows] | None] = asyncio.Queue()
        self._room = asyncio.Event()
        self._error: BaseException | None = None

    async def put(self, chunk: Chunk, rows: ChunkRows) -> None:
        while self._rows and self._rows + len(rows) > self._max_rows:
            self._room.clear()
            await self._room.wait()
        self._rows += len(rows)
        self._items.put_nowait((chunk, rows))

    async def take(self, max_rows: int) -> list[tuple[Chunk, ChunkRows]]:
        """The next chunk, and the ones after it that are ready, up to ``max_rows`` rows; [] at the end."""
        batch: list[tuple[Chunk, ChunkRows]] = []
        rows = 0
        while not batch or (rows < max_rows and not self._items.empty()):
            item = self._items.get_nowait() if batch else await self._items.get()
            if item is None:
                self._items.put_nowait(None)  # the end stays visible to the next call
                if self._error is not None:
                    raise self._error
                break
            batch.append(item)
            rows += len(item[1])
        return batch

    def done(self, rows: int) -> None:
        """The writer has finished with ``rows`` rows: let the reader run further ahead."""
        self._rows -= rows
        self._room.set()

    def empty(self) -> bool:
        return self._items.empty()

    def close(self) -> None:
        self._items.put_nowait(None)

    def fail(self, error: BaseException) -> None:
        if not isinstance(error, asyncio.CancelledError):
            self._error = error
        self._items.put_nowait(None)
