"""The streaming merge: notification rows in (job, row) order, joined to their recipient files.

Nothing is cached and nothing is written anywhere but the output stream: each recipient file is
read once, in order, while its rows are being written, and dropped as soon as the stream moves on.
Small API batch objects are fetched a few jobs ahead (bounded read-ahead) so the database stream
never waits on storage; spreadsheets are streamed chunk by chunk through their own reader.  Memory
is bounded by one batch of rows plus the read-ahead, however long the report.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.db.models import JobKind
from notify.recipients.batch_file import decode_batch
from notify.recipients.lookup import JobFile
from notify.recipients.spreadsheet import byte_range_for_rows
from notify.recipients.spreadsheet_read import StreamingRowReader
from notify.reports.columns import MISSING_RECIPIENT, STATUS_LABELS, UTF8_BOM, header, neutralise
from notify.reports.query import ReportJob, ReportScope, report_jobs, stream_rows
from notify.storage import ObjectNotFound, ObjectStore

READ_AHEAD = 16
CHUNK = 1 << 20


@dataclass
class ReportStream:
    """A report ready to stream: its file name and row estimate are known before the first byte.

    ``rows_written`` counts data rows as they are yielded (exports report progress from it).
    """

    filename: str
    estimated_rows: int
    chunks: AsyncIterator[bytes] = field(init=False)
    rows_written: int = 0


class _BatchSource:
    """An API batch object: small, read whole, ahead of time."""

    def __init__(self, store: ObjectStore, file: JobFile) -> None:
        self._task = asyncio.ensure_future(self._load(store, file))

    @staticmethod
    async def _load(store: ObjectStore, file: JobFile) -> dict[int, str] | None:
        try:
            data = await store.get(file.object_key)
        except ObjectNotFound:
            return None
        return {n: row.recipient for n, row in decode_batch(data, key=file.object_key).items()}

    async def rows(self) -> dict[int, str] | None:
        return await self._task

    def cancel(self) -> None:
        self._task.cancel()


class _SpreadsheetSource:
    """A spreadsheet, streamed from the row index entry at or before ``first_row``."""

    def __init__(self, store: ObjectStore, file: JobFile, first_row: int) -> None:
        start, _, start_row = byte_range_for_rows(file.row_offsets, file.data_end, first_row, first_row)
        self._chunks = store.stream(file.object_key, start=start, chunk_size=CHUNK)
        self._reader = StreamingRowReader(first_row_number=start_row, skip_bom=start == 0)
        self._rows: dict[int, list[str]] = {}
        self._high = start_row - 1
        self._done = False
        self.missing = False

    def ready(self, row_number: int) -> list[str] | None:
        """The row if it is in the chunk already read (the common case: no await per row)."""
        return self._rows.get(row_number)

    def passed(self, row_number: int) -> bool:
        """True if reading further cannot produce this row (it is blank-skipped or beyond the file)."""
        return row_number <= self._high or self._done

    async def cells(self, row_number: int) -> list[str] | None:
        while row_number > self._high and not self._done:
            try:
                chunk = await anext(self._chunks)
                batch = self._reader.feed(chunk)
            except StopAsyncIteration:
                batch = self._reader.finish()
                self._done = True
            except ObjectNotFound:
                self.missing, self._done = True, True
                batch = []
            if batch:
                self._rows = dict(batch)  # rows are asked for in order: earlier ones are done with
                self._high = batch[-1][0]
        return self._rows.get(row_number)


async def open_report(
    engine: AsyncEngine, store: ObjectStore, scope: ReportScope, *, filename: str
) -> ReportStream:
    async with engine.connect() as conn:
        jobs = await report_jobs(conn, scope)
        timezone = (
            await conn.execute(text("SELECT timezone FROM services WHERE id = :id"), {"id": scope.service_id})
        ).scalar_one()
    report = ReportStream(filename, sum(j.rows for j in jobs))
    report.chunks = _generate(engine, store, scope, jobs, timezone, report)
    return report


async def _generate(
    engine: AsyncEngine,
    store: ObjectStore,
    scope: ReportScope,
    jobs: Sequence[ReportJob],
    timezone: str,
    report: ReportStream,
) -> AsyncIterator[bytes]:
    job_report = scope.job_id is not None and bool(jobs) and jobs[0].file.kind is JobKind.upload
    file_columns: list[str] = []
    if job_report:
        skip = jobs[0].file.recipient_column
        file_columns = [c for i, c in enumerate(jobs[0].file.header) if i != skip]
    template_type = scope.template_type or (jobs[0].file.template_type.value if job_report and jobs[0].file.template_type else None)
    first = io.StringIO()
    csv.writer(first).writerow([neutralise(c) for c in header(template_type, file_columns)])
    yield (UTF8_BOM + first.getvalue()).encode("utf-8")
    if not jobs:
        return

    position = {job.file.job_id: index for index, job in enumerate(jobs)}
    batches: dict[uuid.UUID, _BatchSource] = {}

    def read_ahead(index: int) -> None:
        for job in jobs[index : index + READ_AHEAD]:
            if job.file.kind is JobKind.api and job.file.job_id not in batches:
                batches[job.file.job_id] = _BatchSource(store, job.file)

    current: uuid.UUID | None = None
    current_text = ""
    column = 0
    api_rows: dict[int, str] | None = None
    sheet: _SpreadsheetSource | None = None
    width = len(file_columns)
    # Template, sender, carrier and file names repeat on every row of a job: neutralise each once.
    # (These are service data, never recipients; recipients and references are not memoised.)
    memo: dict[str, str] = {}

    def labels(value: str) -> str:
        found = memo.get(value)
        if found is None:
            found = memo[value] = neutralise(value)
            if len(memo) > 10_000:
                memo.clear()
        return found

    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            async for batch in stream_rows(raw.driver_connection, scope, jobs, timezone=timezone):
                out = io.StringIO()
                write = csv.writer(out).writerow
                for job_id_text, row_text, _kind, template, sent_by, carrier, status, when, batch_file, response, ref in batch:
                    row_number = int(row_text)
                    if job_id_text != current_text:
                        if current is not None and current in batches:
                            batches.pop(current)
                        current_text, job_id = job_id_text, uuid.UUID(job_id_text)
                        current = job_id
                        index = position[job_id]
                        read_ahead(index)
                        file = jobs[index].file
                        column = file.recipient_column
                        if file.kind is JobKind.api:
                            api_rows, sheet = await batches[job_id].rows(), None
                        else:
                            api_rows, sheet = None, _SpreadsheetSource(store, file, row_number)
                    extra: list[str] = []
                    if sheet is not None:
                        cells = sheet.ready(row_number)
                        if cells is None and not sheet.passed(row_number):
                            cells = await sheet.cells(row_number)
                        if cells is None:
                            recipient = MISSING_RECIPIENT
                            extra = [""] * width
                        else:
                            recipient = cells[column] if column < len(cells) else ""
                            if job_report:
                                extra = [c for i, c in enumerate(cells) if i != column]
                                extra = (extra + [""] * width)[:width]
                        shown_row = str(row_number + 1)
                    else:
                        found = api_rows.get(row_number) if api_rows is not None else None
                        recipient = found if found is not None else MISSING_RECIPIENT
                        shown_row = ""
                    write(
                        [
                            neutralise(recipient),
                            labels(template),
                            labels(sent_by),
                            labels(carrier),
                            STATUS_LABELS.get(status, status),
                            when,
                            labels(batch_file),
                            neutralise(response),
                            shown_row,
                            neutralise(ref),
                            *[neutralise(c) for c in extra],
                        ]
                    )
                report.rows_written += len(batch)
                yield out.getvalue().encode("utf-8")
    finally:
        for source in batches.values():
            source.cancel()
