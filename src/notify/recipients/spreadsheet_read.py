"""Reading rows back from a stored spreadsheet, and what it shares with validation.

Shared with :mod:`notify.recipients.spreadsheet_validate`: CSV record splitting, the
:class:`ValidatedFile` shape that both sides exchange through the database, and the per-row SMS
pricing (:func:`sms_pricer`) that must count fragments exactly as ``render_sms`` does.

The validator (:mod:`notify.recipients.spreadsheet_validate`) and this reader must agree exactly
on where each record starts and which records are blank, otherwise a notification's
``(job_id, row_number)`` would point at somebody else. So both go through :func:`iter_records`,
which lets the stdlib ``csv`` module decide record boundaries (quoted cells may hold line breaks)
and only adds the bookkeeping of how many physical lines each record used.

Numbering: ``row_number`` is 0-based and counts *non-blank* data records only; the header is not
a data record. A blank record (every cell empty or whitespace) has no row_number: nobody can be
sent anything from it, and GOV.UK Notify skips such rows too.
"""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter

from notify.db.models import TemplateType
from notify.recipients.email import InvalidEmailAddress, normalise_email
from notify.recipients.phone import InvalidPhoneNumber, phone_normaliser
from notify.templates import (
    GSM_BASIC,
    GSM_CHARACTERS,
    EmptyMessage,
    SmsTooLong,
    check_sms_length,
    normalise_key,
    placeholders,
    render_sms,
    sanitise_sms,
    substitute,
)

# The whitespace rule render_sms applies; imported rather than copied so the fast pricer below
# can never drift from it.
from notify.templates.render import _normalise_sms_whitespace

__all__ = [
    "MalformedSpreadsheet",
    "SpreadsheetRow",
    "ValidatedFile",
    "byte_range_for_rows",
    "is_blank",
    "iter_records",
    "parse_rows",
    "plain_placeholder_keys",
    "sms_pricer",
    "split_lines",
]

UTF8_BOM = b"\xef\xbb\xbf"

_Normaliser = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class ValidatedFile:
    """What the database keeps about an accepted file: its shape and a sparse row index.

    ``row_offsets`` holds ``(row_number, byte offset in the original bytes, BOM included)`` for
    row 0 and every ``index_every``-th row. ``data_end`` is the offset just past the last data
    row's line break; trailing blank rows are excluded, so ``data[row_offsets[0][1]:data_end]``
    is exactly the data rows.
    """

    row_count: int
    byte_size: int
    header: list[str]
    recipient_column: int
    row_offsets: list[tuple[int, int]] = field(repr=False)
    data_end: int
    billable_units: int


class MalformedSpreadsheet(Exception):
    """A stored spreadsheet cannot be read back as it was validated.

    It names the row number (and what went wrong), never a cell value: values are PII.
    """


@dataclass(frozen=True, slots=True)
class SpreadsheetRow:
    """One data row, ready for sending or for a report.

    ``values`` maps each original header to its cell (all columns, "" for a missing cell), which
    is what :func:`notify.templates.render_sms` and ``render_email`` take as personalisation.
    When two headers are spelled identically the later column's cell is kept.
    """

    row_number: int
    recipient: str
    values: dict[str, str]

    def __repr__(self) -> str:
        # The dataclass repr would print the recipient and every value into logs and tracebacks.
        return f"SpreadsheetRow(row_number={self.row_number}, columns={len(self.values)})"


def split_lines(text: str) -> list[str]:
    """Physical lines of ``text``, each keeping its "\\n" (the last one may lack it).

    Only "\\n" splits, never a lone "\\r" or U+2028 (as ``str.splitlines`` would), because byte
    offsets are computed by splitting the raw bytes on b"\\n": in UTF-8 that byte only ever
    encodes "\\n", so text lines and byte lines correspond one to one.
    """
    lines = text.split("\n")
    last = lines.pop()
    lines = [line + "\n" for line in lines]
    if last:
        lines.append(last)
    return lines


def iter_records(lines: Sequence[str], *, final: bool) -> Iterator[tuple[list[str], int]]:
    """Yield ``(cells, physical_lines_used)`` for each complete CSV record in ``lines``.

    The csv module decides where a record ends. When ``final`` is False, a record still open at
    the end of ``lines`` (a quoted cell whose closing quote is in bytes not yet received) is
    *not* yielded: the caller keeps its lines and retries once more bytes arrive. We notice such
    a record because csv asked for a line beyond the last one before returning it. A complete
    record never makes csv read ahead, since a record ends at its own line break.

    Raises ``csv.Error`` for text csv refuses (a lone carriage return inside an unquoted cell,
    as in old Mac "CR only" files); the message quotes no cell.
    """
    ran_out = False

    def source() -> Iterator[str]:
        nonlocal ran_out
        yield from lines
        ran_out = True

    reader = csv.reader(source())
    used = 0
    for cells in reader:
        if ran_out and not final:
            return
        count = reader.line_num - used
        used = reader.line_num
        yield cells, count


def is_blank(cells: list[str]) -> bool:
    """A record with no content in any cell; ``[]`` is what csv gives for an empty line."""
    return not "".join(cells).strip()


def parse_rows(
    data: bytes,
    *,
    first_row_number: int,
    header: list[str],
    recipient_column: int,
    template_type: TemplateType,
    default_region: str,
    allow_international: bool,
    skip_bom: bool,
) -> Iterator[SpreadsheetRow]:
    """Yield the data rows in ``data``, a slice of a validated file that starts at a row boundary.

    ``data`` usually comes from one ranged GET (see :func:`byte_range_for_rows`); it may end at a
    row boundary or at the file's ``data_end``. Blank records are skipped without using a row
    number, exactly as the validator numbered them. Rows are parsed lazily, so a caller that
    wants only the first few can stop early.

    Raises :class:`MalformedSpreadsheet` if the bytes are not the ones that were validated (not
    UTF-8, or a recipient that no longer normalises); the message names the row only.
    """
    if skip_bom and data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedSpreadsheet(
            f"Stored spreadsheet is not UTF-8 after row {first_row_number}"
        ) from None
    normalise = _recipient_normaliser(template_type, default_region, allow_international)
    width = len(header)
    row_number = first_row_number
    try:
        for cells, _ in iter_records(split_lines(text), final=True):
            if is_blank(cells):
                continue
            if len(cells) < width:
                cells = cells + [""] * (width - len(cells))
            raw = cells[recipient_column] if recipient_column < len(cells) else ""
            try:
                recipient = normalise(raw)
            except (InvalidPhoneNumber, InvalidEmailAddress) as exc:
                raise MalformedSpreadsheet(
                    f"Row {row_number} of a stored spreadsheet has an invalid recipient ({exc.reason})"
                ) from None
            yield SpreadsheetRow(row_number, recipient, dict(zip(header, cells)))
            row_number += 1
    except csv.Error:
        raise MalformedSpreadsheet(
            f"Stored spreadsheet cannot be parsed at row {row_number}"
        ) from None


def _recipient_normaliser(
    template_type: TemplateType, default_region: str, allow_international: bool
) -> _Normaliser:
    if template_type == TemplateType.email:
        return normalise_email
    return phone_normaliser(default_region, allow_international=allow_international)


def byte_range_for_rows(
    row_offsets: Sequence[tuple[int, int]] | Sequence[Sequence[int]],
    data_end: int,
    first_row: int,
    last_row: int,
) -> tuple[int, int, int]:
    """``(start, end, row_number_at_start)`` of one ranged GET covering rows first..last.

    ``start`` is the indexed offset at or before ``first_row``; ``end`` (exclusive) is the
    indexed offset of the first indexed row after ``last_row``, or ``data_end``. The range
    therefore starts and ends on row boundaries, and parsing it with ``first_row_number=
    row_number_at_start`` numbers rows correctly. ``row_offsets`` is sorted by row number and
    starts with row 0, as :class:`~notify.recipients.spreadsheet.ValidatedFile` provides it
    (lists from JSON work too).
    """
    if not row_offsets:
        raise ValueError("row_offsets is empty: the file has no data rows")
    if first_row < 0 or last_row < first_row:
        raise ValueError(f"bad row range {first_row}..{last_row}")
    numbers = [entry[0] for entry in row_offsets]
    start_index = max(bisect_right(numbers, first_row) - 1, 0)
    end_index = bisect_right(numbers, last_row)
    start_row, start = row_offsets[start_index][0], row_offsets[start_index][1]
    end = row_offsets[end_index][1] if end_index < len(row_offsets) else data_end
    return start, end, start_row


# --- What a row costs: shared with validation, which prices every row of an upload -----------


def plain_placeholder_keys(texts: list[str], names: list[str]) -> list[str]:
    """Keys of placeholders used plainly (``((name))``) at least once, in template order.

    A placeholder used only as a conditional (``((name??text))``) may be left empty: an empty
    cell simply means "no". We find out which is which with the templates module's own
    ``substitute``: a unique marker value shows up in the output only where it is inserted
    plainly.
    """
    markers = {name: f"\ue000{index}\ue001" for index, name in enumerate(names)}
    filled = "".join(substitute(text, markers) for text in texts if text)
    return [normalise_key(name) for name in names if markers[name] in filled]


_MARKER = re.compile("\ue000(\\d+)\ue001")


def sms_pricer(
    content: str, names: list[str], columns: dict[str, int]
) -> Callable[[list[str]], int]:
    """A function from a row's cells to its SMS fragment count, exactly as ``render_sms`` counts.

    ``render_sms`` costs about 13 µs a row, more than the whole 10 µs budget, mostly in
    re-parsing the template. Without conditional placeholders substitution does not depend on
    the values, so the template is split once (with ``substitute`` and marker values) into
    literal text and value slots; each row is then a ``str.format`` call followed by the same
    ``sanitise_sms``, whitespace rule and ``check_sms_length`` that ``render_sms`` applies.
    Templates with ``??`` (conditionals) or our marker characters use ``render_sms`` itself.
    tests/recipients/test_spreadsheet_sms.py checks the two agree through the validator.
    """
    body_names = placeholders(content)
    if "??" in content or "\ue000" in content or "\ue001" in content:
        keyed = [(name, columns[normalise_key(name)]) for name in body_names]

        def render_each(cells: list[str]) -> int:
            values = {name: cells[index] for name, index in keyed}
            return render_sms(content, values).length.fragments

        return render_each
    markers = {name: f"\ue000{index}\ue001" for index, name in enumerate(body_names)}
    parts = _MARKER.split(substitute(content, markers))
    template = "".join(
        part.replace("{", "{{").replace("}", "}}") if position % 2 == 0 else "{}"
        for position, part in enumerate(parts)
    )
    slots = [columns[normalise_key(body_names[int(i)])] for i in parts[1::2]]
    # A trailing dummy index makes itemgetter always return a tuple; format ignores extras.
    values_of = itemgetter(*slots, 0)
    fill = template.format
    plain = GSM_BASIC.issuperset if _SANITISE_KEEPS_GSM else (lambda text: False)

    def price(cells: list[str]) -> int:
        filled = fill(*values_of(cells))
        if plain(filled):
            # GSM basic only: sanitise_sms leaves it alone and its length is its septet count.
            body = _normalise_sms_whitespace(filled)
            if body:
                fragments = _plain_gsm_fragments(len(body))
                if fragments is not None:
                    return fragments
        body = _normalise_sms_whitespace(sanitise_sms(filled))
        if not body:
            raise EmptyMessage()
        return check_sms_length(body).fragments

    return price


# sanitise_sms translates character by character (its ZWJ rule needs a non-GSM character), so if
# it maps every GSM character to itself it leaves every GSM text alone. Checked at import rather
# than assumed, so a change in the templates module switches the shortcut off instead of
# silently mispricing.
_SANITISE_KEEPS_GSM = all(sanitise_sms(char) == char for char in GSM_CHARACTERS)


@cache
def _plain_gsm_fragments(septets: int) -> int | None:
    """Fragments for a GSM-basic body of ``septets`` characters; None when it is too long.

    Every basic-alphabet character is one septet, so ``check_sms_length`` gives the same answer
    for any such text of the same length; we ask it once per length. Keyed by a number only.
    """
    try:
        return check_sms_length("a" * septets).fragments
    except SmsTooLong:
        return None


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
