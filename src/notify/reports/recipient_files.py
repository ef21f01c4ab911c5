"""Each job's recipient file, read once, ahead of need, as Arrow columns indexed by row number.

The report asks for a job's file as soon as the database says the job has rows (which is well
before they are written), so reads overlap with the database and with writing earlier jobs. At
most ``CONCURRENT_READS`` objects are read at once, and every job is dropped as soon as the report
moves past it: memory is bounded by the jobs in the read-ahead window, however long the report.

Nothing is cached across reports and nothing is written anywhere: recipients live in memory only
while the report that needs them is being written. A missing object (retention over) gives
``None``, so its rows carry the marker instead of failing the report. A row that is there but
cannot be read (stored by an older version, or damaged) gets its own marker cell, and the rows
around it are written as usual.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from notify.db.models import JobKind
from notify.recipients.batch_file import MalformedRecipientFile, batch_recipients
from notify.recipients.columnar import read_spreadsheet_columns
from notify.recipients.lookup import JobFile
from notify.reports.cells import csv_cell, csv_cells
from notify.reports.columns import UNREADABLE_RECIPIENT
from notify.reports.query import ReportJob
from notify.storage import ObjectNotFound, ObjectStore

__all__ = ["JobRecipients", "RecipientFiles"]

# Object stores answer many small reads at once far faster than one after another (S3 takes tens
# of milliseconds per GET), so up to CONCURRENT_READS files are read at once, within a budget of
# READ_BUDGET_BYTES of file data being read or parsed (a file larger than that is read alone).
CONCURRENT_READS = 32
READ_BUDGET_BYTES = 64 * 1024 * 1024
API_BATCH_BYTES = 64 * 1024  # what an API batch object is counted as; they hold a few dozen rows
# Files larger than this are parsed on a worker thread (Arrow lets go of the GIL), so parsing one
# job overlaps with writing the one before it.
THREAD_PARSE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class JobRecipients:
    """Row n's cells, already written as CSV cells (neutralised, quoted where needed).

    ``recipients[n]`` is row n's recipient; for a job report, ``others[n]`` is the rest of the
    row's cells joined with commas.
    """

    recipients: pa.StringArray
    others: pa.StringArray | None = None


class RecipientFiles:
    """Loads the files of ``jobs`` on request, each once; :meth:`close` cancels what is left."""

    def __init__(self, store: ObjectStore, jobs: list[ReportJob], *, other_columns: bool) -> None:
        self._store = store
        self._jobs = jobs
        self._other_columns = other_columns
        self._loads: dict[int, asyncio.Task[JobRecipients | None]] = {}
        self._reads = asyncio.Semaphore(CONCURRENT_READS)
        self._budget = _ByteBudget(READ_BUDGET_BYTES)

    def want(self, job: int) -> None:
        """Start reading ``jobs[job]``'s file if nobody has yet."""
        if job not in self._loads:
            self._loads[job] = asyncio.ensure_future(self._load(self._jobs[job].file))

    async def get(self, job: int) -> JobRecipients | None:
        """The job's columns, or None when its file is gone."""
        self.want(job)
        return await self._loads[job]

    def release_before(self, job: int) -> None:
        """Forget every job before ``job``: the report has written all their rows."""
        for index in [index for index in self._loads if index < job]:
            self._loads.pop(index).cancel()

    def close(self) -> None:
        for load in self._loads.values():
            load.cancel()
        self._loads.clear()

    async def _load(self, file: JobFile) -> JobRecipients | None:
        start = file.row_offsets[0][1] if file.row_offsets else 0
        size = API_BATCH_BYTES if file.kind is JobKind.api else max(file.data_end - start, 0)
        await self._budget.acquire(size)
        try:
            try:
                async with self._reads:
                    if file.kind is JobKind.api:
                        data = await self._store.get(file.object_key)
                    elif size:
                        data = await self._store.get_range(file.object_key, start, file.data_end)
                    else:
                        data = b""
            except ObjectNotFound:
                return None
            if len(data) > THREAD_PARSE_BYTES:
                return await asyncio.to_thread(self._parse, file, data)
            return self._parse(file, data)
        finally:
            self._budget.release(size)

    def _parse(self, file: JobFile, data: bytes) -> JobRecipients:
        """Parse and write the cells here, off the writer's path (and its thread, for big files)."""
        if file.kind is JobKind.api:
            # A batch holds a few dozen rows: one Python call per cell beats Arrow's per-call cost.
            try:
                recipients = batch_recipients(data, key=file.object_key)
            except MalformedRecipientFile:
                recipients = [None] * file.row_count
            cells = [_UNREADABLE if recipient is None else csv_cell(recipient) for recipient in recipients]
            return JobRecipients(pa.array(cells, pa.string()))
        columns = read_spreadsheet_columns(
            data,
            header_width=len(file.header),
            recipient_column=file.recipient_column,
            other_columns=self._other_columns,
        )
        others = None
        if columns.others:
            others = pc.binary_join_element_wise(*(csv_cells(column) for column in columns.others), ",")
        recipients = csv_cells(columns.recipients)
        missing = file.row_count - len(recipients)
        if columns.unreadable_from is not None and missing > 0:
            # The bytes are damaged from this row on: every later row gets the marker.
            recipients = pa.concat_arrays([recipients, pa.array([_UNREADABLE] * missing, pa.string())])
            if others is not None:
                blank = "," * (len(columns.others) - 1)
                others = pa.concat_arrays([others, pa.array([blank] * missing, pa.string())])
        return JobRecipients(recipients, others)


_UNREADABLE = csv_cell(UNREADABLE_RECIPIENT)


class _ByteBudget:
    """How many bytes of file data may be in memory at once; one event loop, so no lock.

    Waiters are served first come, first served, and a release wakes only the waiters that now
    fit. Waking every waiter on every release (an Event) made a report of N small API batch files
    O(N²): 20,005 of them took 353 s, nearly all of it in wake-ups.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        # Cancelled waiters stay in the queue and are skipped when reached: removing them at once
        # would cost O(N) per cancellation when a report is abandoned with many files queued.
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _fits(self, size: int) -> bool:
        return not self._used or self._used + size <= self._limit

    async def acquire(self, size: int) -> None:
        self._grant()
        if not self._waiters and self._fits(size):
            self._used += size
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((size, granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release(size)  # granted, then cancelled before it could use the bytes
            else:
                self._grant()  # a waiter behind this one may fit now
            raise

    def release(self, size: int) -> None:
        self._used -= size
        self._grant()

    def _grant(self) -> None:
        while self._waiters:
            wanted, granted = self._waiters[0]
            if granted.done():
                self._waiters.popleft()
                continue
            if not self._fits(wanted):
                break
            self._waiters.popleft()
            self._used += wanted
            granted.set_result(None)
