"""A stored spreadsheet read column by column into Arrow arrays, for reports.

A report joins thousands of notification rows at a time to their recipient cells by row number.
Parsing the whole file with Arrow's CSV reader is three to four times faster than the csv module,
and gives arrays that the report can index by row number without a Python loop per row.

Row numbers must be exactly the ones the validator gave (see :mod:`notify.recipients.spreadsheet`):
0-based, blank records skipped. Arrow's reader splits records and cells exactly as the csv module
does for every file the validator accepts whose records all have the same number of cells
(tests/recipients/test_columnar.py checks this against the csv module on generated files). Arrow
skips empty lines itself; any other blank record is one whose recipient cell is whitespace only,
because the validator rejects a non-blank row without a recipient, so those rows are dropped by
looking at the recipient cell alone. Whatever Arrow refuses (records of different lengths, a file
of one column with a quoted empty cell, ...) is read by the csv-module reader the rest of Notify
uses, :class:`StreamingRowReader` below.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv

from notify.recipients.spreadsheet_read import (
    UTF8_BOM,
    MalformedSpreadsheet,
    is_blank,
    iter_records,
    split_lines,
    stored_records,
)

__all__ = ["SpreadsheetColumns", "StreamingRowReader", "read_spreadsheet_columns"]

# Exactly the characters str.isspace() accepts (what is_blank strips); a test keeps it in step.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BLANK = "^[" + "".join(f"\\x{{{ord(c):x}}}" for c in PYTHON_WHITESPACE) + "]*$"


@dataclass(frozen=True, slots=True)
class SpreadsheetColumns:
    """Cells by row number, as uploaded: ``recipients[n]`` is row n's recipient cell.

    ``others`` (filled only when asked for) holds the row's other cells, one array per header
    column other than the recipient's, in file order: a missing cell is "" and cells beyond the
    header are left out, as a job report shows them.

    ``unreadable_from`` is set when the bytes stop being the ones validated (damaged, or not
    UTF-8): the arrays hold the rows before it, and no later row can be numbered or read.
    """

    recipients: pa.StringArray
    others: tuple[pa.StringArray, ...] = ()
    unreadable_from: int | None = None


def read_spreadsheet_columns(
    data: bytes, *, header_width: int, recipient_column: int, other_columns: bool
) -> SpreadsheetColumns:
    """Read ``data``: a validated file's bytes from row 0's offset to ``data_end`` (no header, no BOM).

    Never raises for bad bytes: the rows before them are returned, with ``unreadable_from``.
    """
    width = max(header_width - 1, 0) if other_columns else 0
    if data:
        columns = _read_with_arrow(data, header_width, recipient_column, width)
        if columns is not None:
            return columns
    return _read_with_csv_module(data, recipient_column, width)


def _read_with_arrow(data: bytes, header_width: int, recipient_column: int, width: int) -> SpreadsheetColumns | None:
    others = [index for index in range(header_width) if index != recipient_column][:width]
    wanted = [recipient_column, *others]
    names = [f"f{index}" for index in wanted]
    try:
        table = arrow_csv.read_csv(
            pa.BufferReader(data),
            read_options=arrow_csv.ReadOptions(autogenerate_column_names=True, use_threads=False),
            parse_options=arrow_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
            convert_options=arrow_csv.ConvertOptions(
                include_columns=names,
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, KeyError):
        # Records of different lengths, fewer cells than the header, or bytes Arrow refuses (not
        # UTF-8, a record larger than its block): the csv module decides.
        return None
    arrays = [table.column(name).combine_chunks() for name in names]
    blank = pc.match_substring_regex(arrays[0], _BLANK)
    if pc.any(blank).as_py():
        keep = pc.invert(blank)
        arrays = [array.filter(keep) for array in arrays]
    return SpreadsheetColumns(arrays[0], tuple(arrays[1:]))


def _read_with_csv_module(data: bytes, recipient_column: int, width: int) -> SpreadsheetColumns:
    reader = StreamingRowReader(first_row_number=0, skip_bom=False)
    unreadable_from: int | None = None
    try:
        rows = [cells for _, cells in reader.feed(data) + reader.finish()]
    except MalformedSpreadsheet:
        # Damaged bytes: read again, slowly, keeping every row before the damage.
        rows = []
        for record in stored_records(data, first_row_number=0):
            if isinstance(record, tuple):
                rows.append(record[1])
            else:
                unreadable_from = record.row_number
    recipients = [cells[recipient_column] if recipient_column < len(cells) else "" for cells in rows]
    others = []
    for position in range(width):
        index = position if position < recipient_column else position + 1
        others.append(pa.array([cells[index] if index < len(cells) else "" for cells in rows], pa.string()))
    return SpreadsheetColumns(pa.array(recipients, pa.string()), tuple(others), unreadable_from)


class StreamingRowReader:
    """Raw rows of a stored spreadsheet, from bytes that arrive in chunks (reports read this way).

    Reports need every row of a possibly large file in order without holding the file: feed it
    chunks from a streaming GET and take ``(row_number, cells)`` as records complete. Cells are
    returned as uploaded (no normalisation: a report shows what the team uploaded, and this keeps
    a million rows fast). Numbering skips blank records exactly as the validator did.
    """

    def __init__(self, *, first_row_number: int, skip_bom: bool) -> None:
        self._row_number = first_row_number
        self._skip_bom = skip_bom
        self._pending = b""
        self._carry: list[str] = []

    def feed(self, chunk: bytes) -> list[tuple[int, list[str]]]:
        data = self._pending + chunk
        if self._skip_bom:
            if len(data) < len(UTF8_BOM) and UTF8_BOM.startswith(data):
                self._pending = data
                return []
            if data.startswith(UTF8_BOM):
                data = data[len(UTF8_BOM) :]
            self._skip_bom = False
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        if not cut:
            return []
        text = self._decode(data[:cut])
        if not self._carry and '"' not in text:
            return self._unquoted(text)
        return self._records(split_lines(text), final=False)

    def _unquoted(self, text: str) -> list[tuple[int, list[str]]]:
        """Fast path: with no quote characters, every line is one record; let csv iterate in C."""
        rows: list[tuple[int, list[str]]] = []
        number = self._row_number
        try:
            for cells in csv.reader(io.StringIO(text)):
                first = cells[0] if cells else ""
                if (not first or first.isspace()) and is_blank(cells):
                    continue
                rows.append((number, cells))
                number += 1
        except csv.Error:
            raise MalformedSpreadsheet(f"Stored spreadsheet cannot be parsed at row {number}") from None
        self._row_number = number
        return rows

    def finish(self) -> list[tuple[int, list[str]]]:
        tail = split_lines(self._decode(self._pending)) if self._pending else []
        self._pending = b""
        return self._records(tail, final=True)

    def _decode(self, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedSpreadsheet(f"Stored spreadsheet is not UTF-8 after row {self._row_number}") from None

    def _records(self, lines: list[str], *, final: bool) -> list[tuple[int, list[str]]]:
        lines = self._carry + lines
        rows: list[tuple[int, list[str]]] = []
        used = 0
        try:
            for cells, count in iter_records(lines, final=final):
                used += count
                if is_blank(cells):
                    continue
                rows.append((self._row_number, cells))
                self._row_number += 1
        except csv.Error:
            raise MalformedSpreadsheet(f"Stored spreadsheet cannot be parsed at row {self._row_number}") from None
        self._carry = lines[used:]
        return rows
