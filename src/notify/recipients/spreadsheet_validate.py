"""Validate an uploaded spreadsheet while it streams in, and index where its rows start.

The upload is pushed through :meth:`SpreadsheetValidator.feed` chunk by chunk, as it arrives from
the HTTP request and is streamed on into object storage. Memory stays flat: the validator keeps
only the bytes of the record in progress, the first 100 errors, counts by kind, and a sparse
row index (one byte offset every ``index_every`` rows). Nothing else of the file is kept.

Errors name the row, the column header and the problem; never a cell value, because every cell
is a recipient's data.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate
from typing import NoReturn

from notify.db.models import TemplateType
from notify.recipients.email import InvalidEmailAddress, normalise_email
from notify.recipients.phone import InvalidPhoneNumber, phone_normaliser
from notify.recipients.spreadsheet_read import (
    UTF8_BOM,
    ValidatedFile,
    is_blank,
    iter_records,
    plain_placeholder_keys,
    sms_pricer,
    split_lines,
)
from notify.recipients.spreadsheet_rules import email_body_can_be_empty, email_body_filler, overlong_column
from notify.templates import EmptyMessage, SmsTooLong, normalise_key, template_placeholders

__all__ = ["FileRejected", "RowError", "SpreadsheetValidator", "ValidatedFile"]

MAX_REPORTED_ERRORS = 100
# A record longer than this is almost always an unclosed quote swallowing the rest of the file;
# refusing it early keeps memory bounded whatever the file looks like.
MAX_RECORD_BYTES = 1024 * 1024
_RECIPIENT_COLUMNS = {TemplateType.sms: "phone number", TemplateType.email: "email address"}
_SAVE_AS_UTF8 = (
    "Save it as 'CSV UTF-8 (Comma delimited)' in Excel, or export it as UTF-8 CSV, "
    "and upload it again."
)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row.

    ``row_number`` is our 0-based address of the data row (blank rows have none; see
    :mod:`notify.recipients.spreadsheet`). ``spreadsheet_row`` is the row a user sees in Excel:
    the header is row 1 and every CSV record below it is one row, blank ones included, while a
    cell with line breaks in it does not add rows. ``column`` is the original header text, or
    None when the problem is the whole row.
    """

    row_number: int
    spreadsheet_row: int
    column: str | None
    kind: str
    reason: str


class FileRejected(Exception):
    """The upload cannot be sent (HTTP 400). ``message`` says in one sentence what to fix.

    ``errors`` holds the first 100 row problems in file order, ``error_counts`` counts every
    problem by kind, and ``kind`` names the file-level reason ("row_errors" when it is the rows).
    """

    def __init__(
        self,
        kind: str,
        message: str,
        errors: list[RowError] | None = None,
        error_counts: dict[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.errors = errors or []
        self.error_counts = error_counts or {}
        self.total_errors = sum(self.error_counts.values())


class SpreadsheetValidator:
    """Push-based validation: call :meth:`feed` with each chunk, then :meth:`finish`.

    Chunks may split anything (a UTF-8 character, a CRLF, a quoted cell with line breaks).
    :meth:`feed` raises :class:`FileRejected` as soon as the whole file is known to be
    unusable (not UTF-8, bad header, too large, too many rows); row problems are collected
    and raised by :meth:`finish`. Once rejected, every later call raises the same error.
    """

    def __init__(
        self,
        *,
        template_type: TemplateType,
        template_content: str,
        template_subject: str | None,
        default_region: str = "US",
        allow_international: bool = False,
        max_rows: int = 100_000,
        max_bytes: int = 50 * 1024 * 1024,
        index_every: int = 1000,
        max_columns: int = 1000,
        max_cell_chars: int = 10_000,
    ) -> None:
        if index_every < 1:
            raise ValueError("index_every must be at least 1")
        self._template_type = template_type
        self._content = template_content
        self._max_rows = max_rows
        self._max_bytes = max_bytes
        self._index_every = index_every
        # Past the csv module's own field limit a cell would stop parsing, not be reported.
        self._max_columns = max_columns
        self._max_cell_chars = min(max_cell_chars, csv.field_size_limit())
        self._recipient_name = _RECIPIENT_COLUMNS[template_type]
        self._names = template_placeholders(template_content, template_subject)
        self._required_keys = plain_placeholder_keys(
            [template_content, template_subject or ""], self._names
        )
        self._normalise: Callable[[str], str] = normalise_email
        self._invalid_kind = "invalid_email"
        if template_type == TemplateType.sms:
            self._invalid_kind = "invalid_phone"
            self._normalise = phone_normaliser(
                default_region, allow_international=allow_international
            )
        self._pending = b""
        self._base = 0  # offset in the original bytes of self._pending[0]
        self._received = 0
        self._bom_checked = False
        self._header: list[str] | None = None
        self._width = 0
        self._recipient_column = 0
        self._required_columns: list[int] = []
        self._pricer: Callable[[list[str]], int] | None = None
        self._email_body: Callable[[list[str]], str] | None = None
        self._chunk_has_nul = False
        self._records_seen = 0  # data records so far, blank ones included
        self._row_count = 0
        self._row_offsets: list[tuple[int, int]] = []
        self._data_end = 0
        self._billable_units = 0
        self._errors: list[RowError] = []
        self._counts: Counter[str] = Counter()
        self._rows_with_errors = 0
        self._rejected: FileRejected | None = None
        self._result: ValidatedFile | None = None

    # -- public -------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        if self._rejected is not None:
            raise self._rejected
        if self._result is not None:
            raise RuntimeError("feed() after finish()")
        self._received += len(chunk)
        if self._received > self._max_bytes:
            self._reject(
                "too_large",
                f"The file is larger than {_size(self._max_bytes)}. "
                "Split it into smaller files and upload them one at a time.",
            )
        buffer = self._pending + chunk if self._pending else chunk
        if not self._bom_checked:
            if len(buffer) < len(UTF8_BOM) and UTF8_BOM.startswith(buffer):
                self._pending = buffer
                return
            buffer = self._skip_bom(buffer)
        cut = buffer.rfind(b"\n") + 1
        consumed = self._process(buffer[:cut], final=False) if cut else 0
        self._pending = buffer[consumed:]
        self._base += consumed
        if len(self._pending) > MAX_RECORD_BYTES:
            self._reject(
                "malformed_csv",
                f"Row {self._next_spreadsheet_row()} is longer than {_size(MAX_RECORD_BYTES)}. "
                'Check it for a quote mark (") that is never closed.',
            )

    def finish(self) -> ValidatedFile:
        if self._rejected is not None:
            raise self._rejected
        if self._result is not None:
            return self._result
        if not self._bom_checked:
            self._pending = self._skip_bom(self._pending)
        if self._pending:
            self._base += self._process(self._pending, final=True)
            self._pending = b""
        if self._header is None:
            self._reject("no_rows", "The file is empty. Add a header row and rows of recipients.")
        if self._row_count == 0:
            self._reject("no_rows", "The file has a header row but no rows of recipients below it.")
        if self._counts:
            rows = self._rows_with_errors
            self._reject(
                "row_errors",
                f"There {'is a problem' if self._counts.total() == 1 else 'are problems'} in "
                f"{rows} row{'' if rows == 1 else 's'}. Fix {'it' if rows == 1 else 'them'} "
                "and upload the file again.",
            )
        assert self._header is not None
        self._result = ValidatedFile(
            row_count=self._row_count,
            byte_size=self._received,
            header=self._header,
            recipient_column=self._recipient_column,
            row_offsets=self._row_offsets,
            data_end=self._data_end,
            billable_units=self._billable_units,
        )
        return self._result

    # -- stream handling ----------------------------------------------------------------------

    def _skip_bom(self, buffer: bytes) -> bytes:
        self._bom_checked = True
        if buffer.startswith(UTF8_BOM):
            self._base = len(UTF8_BOM)
            return buffer[len(UTF8_BOM) :]
        return buffer

    def _next_spreadsheet_row(self) -> int:
        return self._records_seen + (2 if self._header is not None else 1)

    def _process(self, data: bytes, *, final: bool) -> int:
        """Validate the complete records in ``data``; return how many bytes they used."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Rejected outside the handler: the decode error holds the file's bytes and must not
            # ride along as the rejection's __context__.
            bad_at = exc.start
        else:
            bad_at = -1
        if bad_at >= 0:
            row = self._next_spreadsheet_row() + data.count(b"\n", 0, bad_at)
            self._reject(
                "not_utf8",
                f"The file is not UTF-8 text (the first problem is in row {row}). " + _SAVE_AS_UTF8,
            )
        self._chunk_has_nul = "\x00" in text  # one scan per chunk; rows are searched only if it finds one
        lines = split_lines(text)
        sizes: Iterable[int]
        if len(text) == len(data):  # ASCII: one byte per character
            sizes = map(len, lines)
        else:
            sizes = (len(line) + 1 for line in data.split(b"\n"))
        ends = [0, *accumulate(sizes)]
        line = 0
        last_row_end = -1
        unreadable: str | None = None
        try:
            for cells, used in iter_records(lines, final=final):
                start = line
                line += used
                if self._header is None:
                    self._take_header(cells)
                    continue
                self._records_seen += 1
                if is_blank(cells):
                    continue
                row_number = self._row_count
                if row_number >= self._max_rows:
                    self._reject(
                        "too_many_rows",
                        f"The file has more than {self._max_rows:,} rows. Split it into files "
                        f"of {self._max_rows:,} rows or fewer.",
                    )
                self._row_count = row_number + 1
                if row_number % self._index_every == 0:
                    self._row_offsets.append((row_number, self._base + ends[start]))
                last_row_end = line
                self._check_row(row_number, cells)
        except csv.Error as exc:
            unreadable = str(exc)
        if unreadable is not None:
            row = self._next_spreadsheet_row()
            if "field limit" in unreadable:
                # A cell over the csv module's limit stops the parse; find its column to say so.
                found = overlong_column("".join(lines[line:]), self._max_cell_chars)
                where = f"Row {row}"
                if self._header is not None and found is not None and found[0] < len(self._header):
                    where += f", column '{self._header[found[0]]}'"
                too_long = f"{where}: the cell is longer than {self._max_cell_chars:,} characters. "
                if found is not None and found[1]:
                    self._reject("malformed_csv", too_long + 'Check it for a quote mark (") that is never closed.')
                self._reject("cell_too_long", too_long + "Shorten it and upload the file again.")
            self._reject(
                "malformed_csv",
                f"Row {row} cannot be read as CSV: it has a line break or a quote mark (\") "
                "in an unexpected place. " + _SAVE_AS_UTF8,
            )
        if last_row_end >= 0:
            self._data_end = self._base + min(ends[last_row_end], len(data))
        return min(ends[line], len(data))

    # -- header and rows ----------------------------------------------------------------------

    def _take_header(self, cells: list[str]) -> None:
        self._check_width(cells, "The file has {count:,} columns; the most is {most:,}. ", 1)
        while cells and not cells[-1].strip():
            cells = cells[:-1]
        keys = [normalise_key(cell) for cell in cells]
        recipient = [i for i, key in enumerate(keys) if key == normalise_key(self._recipient_name)]
        if not recipient:
            self._reject(
                "missing_recipient_column",
                f"The file needs a column called '{self._recipient_name}'.",
            )
        if len(recipient) > 1:
            self._reject(
                "duplicate_recipient_column",
                f"The file has {len(recipient)} columns called '{self._recipient_name}'. "
                "Keep one and upload it again.",
            )
        columns: dict[str, int] = {}
        missing: list[str] = []
        duplicated: list[str] = []
        for name in self._names:
            found = [i for i, key in enumerate(keys) if key == normalise_key(name)]
            if not found:
                missing.append(name)
            elif len(found) > 1:
                duplicated.append(name)
            else:
                columns[normalise_key(name)] = found[0]
        if missing:
            self._reject(
                "missing_placeholder_columns",
                f"The file is missing {'a column' if len(missing) == 1 else 'columns'} "
                f"for the template: {', '.join(missing)}.",
            )
        if duplicated:
            self._reject(
                "duplicate_placeholder_columns",
                f"The file has more than one column for: {', '.join(duplicated)}. "
                "Keep one of each and upload it again.",
            )
        self._header = cells
        self._width = len(cells)
        self._recipient_column = recipient[0]
        self._required_columns = [columns[key] for key in self._required_keys if key in columns]
        if self._template_type == TemplateType.sms:
            self._pricer = sms_pricer(self._content, self._names, columns)
        elif email_body_can_be_empty(self._content):
            self._email_body = email_body_filler(self._content, columns)

    def _check_width(self, cells: list[str], message: str, row: int) -> None:
        """Refuse a record wider than the cap at once: every later row would cost CPU per cell."""
        if len(cells) > self._max_columns:
            self._reject(
                "too_many_columns",
                message.format(count=len(cells), most=self._max_columns, row=row)
                + "Remove the columns you do not need and upload the file again.",
            )

    def _check_row(self, row_number: int, cells: list[str]) -> None:
        """Collect every problem in one row; on the happy path this is the per-row hot loop."""
        width = self._width
        # (column index or None, kind, reason); header names are looked up only on error.
        problems: list[tuple[int | None, str, str]] = []
        if len(cells) > self._max_columns:
            self._check_width(cells, "Row {row} has {count:,} cells; the most is {most:,}. ", self._records_seen + 1)
        if sum(map(len, cells)) > self._max_cell_chars:
            reason = f"The cell is longer than {self._max_cell_chars:,} characters"
            problems += [(i, "cell_too_long", reason) for i, c in enumerate(cells[:width]) if len(c) > self._max_cell_chars]
        if self._chunk_has_nul:
            problems += [(i, "nul_character", "Contains a NUL character") for i, c in enumerate(cells[:width]) if "\x00" in c]
        if len(cells) != width:
            if len(cells) > width:
                if "".join(cells[width:]).strip():
                    reason = f"Has {len(cells)} cells but the header has {width} columns"
                    problems.append((None, "too_many_cells", reason))
            else:
                cells = cells + [""] * (width - len(cells))
        recipient = self._recipient_column
        raw = cells[recipient]
        if not raw.strip():
            problems.append((recipient, "missing_recipient", f"Missing {self._recipient_name}"))
        else:
            try:
                self._normalise(raw)
            except (InvalidPhoneNumber, InvalidEmailAddress) as exc:
                problems.append((recipient, self._invalid_kind, exc.reason))
        complete = True
        for index in self._required_columns:
            if not cells[index].strip():
                complete = False
                problems.append((index, "missing_value", "Missing value"))
        if self._pricer is not None and complete:
            try:
                self._billable_units += self._pricer(cells)
            except SmsTooLong as exc:
                problems.append((None, "sms_too_long", str(exc)))
            except EmptyMessage as exc:
                problems.append((None, "empty_message", str(exc)))
        if self._email_body is not None and complete and not self._email_body(cells).strip():
            # What render_email would refuse at delivery, refused here, as SMS is.
            problems.append((None, "empty_message", str(EmptyMessage())))
        if problems:
            self._record(row_number, problems)

    def _record(self, row_number: int, problems: list[tuple[int | None, str, str]]) -> None:
        assert self._header is not None
        self._rows_with_errors += 1
        spreadsheet_row = self._records_seen + 1
        for index, kind, reason in problems:
            self._counts[kind] += 1
            if len(self._errors) < MAX_REPORTED_ERRORS:
                column = None if index is None else self._header[index]
                self._errors.append(RowError(row_number, spreadsheet_row, column, kind, reason))

    def _reject(self, kind: str, message: str) -> NoReturn:
        self._rejected = FileRejected(kind, message, list(self._errors), dict(self._counts))
        self._pending = b""
        raise self._rejected


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
