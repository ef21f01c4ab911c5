"""Chunks of a report as CSV bytes: rows in (job, row) order, each joined to its recipient.

Everything per row is done by Arrow over a whole batch of chunks (one big chunk, or many small
jobs together, so that a thousand 50-row API batches cost about what one 50,000-row spreadsheet
does): sort the rows, pick each row's recipient cell by row number, and join the columns into
lines. Python touches each group, never each row.

A line is ``recipient , shared cells , tail``: the shared cells (Template to Carrier Response) are
the group's, and the tail is ``Row Number , Client Reference [, file columns] \\r\\n``. A
spreadsheet row with no client reference (the common case) takes its tail ready-made from one
array per report, so each line's characters are copied once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

import pyarrow as pa
import pyarrow.compute as pc

from notify.db.models import JobKind
from notify.reports.cells import csv_cells
from notify.reports.columns import MISSING_RECIPIENT
from notify.reports.details import RowDetails
from notify.reports.query import ChunkRows, ReportJob
from notify.reports.recipient_files import JobRecipients

__all__ = ["ChunkWriter", "Part"]

_EMPTY = pa.scalar("", pa.string())
_LINE_END = "\r\n"


@dataclass(frozen=True, slots=True)
class Part:
    """One chunk to write: some rows of ``job``, in groups, and the job's cells (None: file gone)."""

    job: ReportJob
    rows: ChunkRows
    recipients: JobRecipients | None

    @property
    def upload(self) -> bool:
        return self.job.file.kind is JobKind.upload


class ChunkWriter:
    """Writes batches of chunks of one report; ``other_columns``: how many file columns a job report adds."""

    def __init__(self, details: RowDetails, *, other_columns: int) -> None:
        self._details = details
        self._other_columns = other_columns
        self._missing = csv_cells(pa.array([MISSING_RECIPIENT], pa.string()))[0]
        self._no_others = pa.scalar("," * (other_columns - 1), pa.string())
        self._labels = pa.array([], pa.string())  # "1", "2", ...: Excel's numbers for rows 0, 1, ...
        self._tails = pa.array([], pa.string())  # "1,\r\n", ...: a spreadsheet row's tail with no reference

    def write(self, parts: Sequence[Part]) -> tuple[memoryview, int]:
        """The parts' lines (CRLF-terminated, as csv.writer ends them) and how many there are.

        The lines are a view of Arrow's buffer, not a copy: the caller joins views into the bytes
        it sends, so each byte is copied once on its way out.
        """
        shared = pa.array(
            [
                self._details.cells(group, upload=part.upload, file_name=part.job.file_name)
                for part in parts
                for group in part.rows.groups
            ],
            pa.string(),
        )
        sizes = [size for part in parts for size in part.rows.sizes]
        group_of_row = _positions(sizes)
        if len(parts) == 1:
            rows, references, part_of_row = parts[0].rows.rows, parts[0].rows.references, None
        else:
            rows = pa.concat_arrays([part.rows.rows for part in parts])
            references = None
            if any(part.rows.references is not None for part in parts):
                references = pa.concat_arrays(
                    [part.rows.references or pa.nulls(len(part.rows), pa.string()) for part in parts]
                )
            part_of_row = _positions([len(part.rows) for part in parts])
        if len(sizes) > 1 or not _ascending(rows):
            order = pc.sort_indices(_order_key(rows, part_of_row))
            rows, group_of_row = rows.take(order), group_of_row.take(order)
            references = references.take(order) if references is not None else None
            part_of_row = part_of_row.take(order) if part_of_row is not None else None
        cells = [part.recipients.recipients if part.recipients else None for part in parts]
        recipients = _gather(parts, cells, rows, part_of_row, self._missing)
        tail = self._tail(parts, rows, part_of_row, references)
        lines = pc.binary_join_element_wise(recipients, shared.take(group_of_row), tail, ",")
        return _characters(lines), len(lines)

    def _tail(
        self, parts: Sequence[Part], rows: pa.Int32Array, part_of_row: pa.Int32Array | None, references: pa.Array | None
    ) -> pa.Array | pa.Scalar:
        """``Row Number,Client Reference[,file columns]\\r\\n`` for each row."""
        uploads = [part.upload for part in parts]
        if any(uploads):
            self._grow(pc.max(rows).as_py())
        if references is None and not self._other_columns:
            if all(uploads):
                return self._tails.take(rows)
            if not any(uploads):
                return pa.scalar("," + _LINE_END, pa.string())
        if all(uploads):
            labels: pa.Array | pa.Scalar = self._labels.take(rows)
        elif any(uploads):
            assert part_of_row is not None
            upload_of_row = pa.array(uploads, pa.bool_()).take(part_of_row)
            labels = pc.if_else(upload_of_row, self._labels.take(rows), _EMPTY)
        else:
            labels = _EMPTY
        columns = [labels, csv_cells(references) if references is not None else _EMPTY]
        if self._other_columns:
            others = [part.recipients.others if part.recipients else None for part in parts]
            columns.append(_gather(parts, others, rows, part_of_row, self._no_others))
        return pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, ","), _LINE_END, "")

    def _grow(self, highest: int) -> None:
        """Make the ready-made row labels and tails reach row ``highest``."""
        if highest < len(self._labels):
            return
        size = max(highest + 1, 2 * len(self._labels), 1024)
        self._labels = pa.array(range(1, size + 1), pa.int32()).cast(pa.string())
        self._tails = pc.binary_join_element_wise(self._labels, "," + _LINE_END, "")


def _positions(sizes: list[int]) -> pa.Int32Array:
    """0 repeated sizes[0] times, then 1 repeated sizes[1] times, ..."""
    ends = pa.array(list(accumulate(sizes)), pa.int32())
    return pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(ends, pa.array(range(len(sizes)), pa.int32())))


def _order_key(rows: pa.Int32Array, part_of_row: pa.Int32Array | None) -> pa.Array:
    """Sorting by this puts rows in (part, row) order."""
    if part_of_row is None:
        return rows
    return pc.add(pc.multiply(part_of_row.cast(pa.int64()), 1 << 32), rows.cast(pa.int64()))


def _gather(
    parts: Sequence[Part],
    columns: Sequence[pa.StringArray | None],
    rows: pa.Int32Array,
    part_of_row: pa.Int32Array | None,
    fill: pa.Scalar,
) -> pa.Array | pa.Scalar:
    """``columns[part][row]`` for each row; ``fill`` where the part has no such row (or no file)."""
    if part_of_row is None:
        column = columns[0]
        return fill if column is None else _pick(column, rows).fill_null(fill)
    # Many small parts: one pool holding just the rows each part needs, then one take.
    pieces: list[pa.StringArray] = []
    bases: list[int] = []
    limits: list[int] = []
    size = 0
    for part, column in zip(parts, columns, strict=True):
        span = pc.min_max(part.rows.rows)
        low, high = span["min"].as_py(), span["max"].as_py() + 1
        if column is not None:
            high = min(high, len(column))
        if column is None or high <= low:
            bases.append(0)
            limits.append(-1)  # no row is below it: every row gets ``fill``
            continue
        pieces.append(column.slice(low, high - low))
        bases.append(size - low)
        limits.append(high)
        size += high - low
    pieces.append(pa.array([fill.as_py()], pa.string()))
    pool = pa.concat_arrays(pieces)
    inside = pc.less(rows, pa.array(limits, pa.int32()).take(part_of_row))
    index = pc.if_else(inside, pc.add(pa.array(bases, pa.int32()).take(part_of_row), rows), size)
    return pool.take(index)


def _ascending(rows: pa.Int32Array) -> bool:
    return len(rows) < 2 or pc.all(pc.greater(rows[1:], rows[:-1])).as_py()


def _pick(cells: pa.StringArray, rows: pa.Int32Array) -> pa.StringArray:
    """``cells[row]`` for each row; null for a row the file does not have."""
    if not len(rows) or pc.max(rows).as_py() < len(cells):
        return cells.take(rows)
    if not len(cells):
        return pa.nulls(len(rows), pa.string())
    inside = pc.less(rows, len(cells))
    return pc.if_else(inside, cells.take(pc.if_else(inside, rows, 0)), pa.scalar(None, pa.string()))


def _characters(lines: pa.StringArray) -> memoryview:
    """The lines' characters, end to end: the array's data buffer between its first and last offsets."""
    if not len(lines):
        return memoryview(b"")
    _, offsets, data = lines.buffers()
    positions = memoryview(offsets).cast("i")  # int32 offsets, native byte order
    first, last = positions[lines.offset], positions[lines.offset + len(lines)]
    return memoryview(data)[first:last]
