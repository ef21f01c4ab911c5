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
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter

from notify.db.models import TemplateType
from notify.recipients.batch_file import UnreadableRow
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
    "read_stored_rows",
    "sms_pricer",
    "split_lines",
    "stored_records",
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
    """Like :func:`read_stored_rows`, for callers that need every row intact.

    Raises :class:`MalformedSpreadsheet` at the first row that cannot be read; the message names
    the row only.
    """
    for row in read_stored_rows(
        data,
        first_row_number=first_row_number,
        header=header,
        recipient_column=recipient_column,
        template_type=template_type,
        default_region=default_region,
        allow_international=allow_international,
        skip_bom=skip_bom,
    ):
        if isinstance(row, UnreadableRow):
            raise MalformedSpreadsheet(f"Row {row.row_number} of a stored spreadsheet {row.reason}") from None
        yield row


def read_stored_rows(
    data: bytes,
    *,
    first_row_number: int,
    header: list[str],
    recipient_column: int,
    template_type: TemplateType,
    default_region: str,
    allow_international: bool,
    skip_bom: bool,
) -> Iterator[SpreadsheetRow | UnreadableRow]:
    """Yield the data rows in ``data``, a slice of a validated file that starts at a row boundary.

    ``data`` usually comes from one ranged GET (see :func:`byte_range_for_rows`); it may end at a
    row boundary or at the file's ``data_end``. Blank records are skipped without using a row
    number, exactly as the validator numbered them. Rows are parsed lazily, so a caller that
    wants only the first few can stop early.

    A row whose recipient no longer normalises (the default region changed since the upload, say)
    is an :class:`UnreadableRow` and its neighbours are read as usual. Bytes that are not the ones
    validated (not UTF-8, not CSV) end the slice with one :class:`UnreadableRow`: where the next
    record starts is then unknown, so every later row of the slice is unreadable too.
    """
    normalise = _recipient_normaliser(template_type, default_region, allow_international)
    width = len(header)
    for record in stored_records(data, first_row_number=first_row_number, skip_bom=skip_bom):
        if isinstance(record, UnreadableRow):
            yield record
            return
        row_number, cells = record
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        raw = cells[recipient_column] if recipient_column < len(cells) else ""
        try:
            recipient = normalise(raw)
        except (InvalidPhoneNumber, InvalidEmailAddress) as exc:
            yield UnreadableRow(row_number, f"has an invalid recipient ({exc.reason})")
            continue
        yield SpreadsheetRow(row_number, recipient, dict(zip(header, cells)))


def stored_records(
    data: bytes, *, first_row_number: int, skip_bom: bool = False
) -> Iterator[tuple[int, list[str]] | UnreadableRow]:
    """``(row_number, cells)`` for each non-blank record of a validated slice, as uploaded.

    The first record that cannot be read (bytes that are not UTF-8, text csv refuses) ends the
    slice with an :class:`UnreadableRow` for its row number: nothing after it can be numbered.
    """
    if skip_bom and data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    undecodable = False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The complete lines before the first bad byte are still good rows.
        text = data[: data.rfind(b"\n", 0, exc.start) + 1].decode("utf-8", "replace")
        undecodable = True
    row_number = first_row_number
    try:
        for cells, _ in iter_records(split_lines(text), final=True):
            if is_blank(cells):
                continue
            yield row_number, cells
            row_number += 1
    except csv.Error:
        yield UnreadableRow(row_number, "cannot be parsed as CSV", and_after=True)
        return
    if undecodable:
        yield UnreadableRow(row_number, "is not UTF-8", and_after=True)


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
