"""API batch objects: the recipient file that group-committed API sends share.

An API send is stored exactly like a spreadsheet row, so every notification is addressed as
(job, row) and reports treat bulk and API sends alike.  The object is a CSV with two columns:
the normalised recipient and the personalisation as a JSON object.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HEADER = ("recipient", "personalisation")


@dataclass(frozen=True, slots=True)
class RecipientRow:
    row_number: int
    recipient: str
    personalisation: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UnreadableRow:
    """A stored row that cannot be read back: lists show it without a recipient, delivery fails it.

    Older versions stored input that the readers cannot parse (a personalisation larger than the
    csv module's field limit, for instance). One such row must not take its neighbours, the page
    or the report down with it, so readers hand back this marker in its place. ``reason`` is a
    fixed phrase naming what is wrong, never anything from the row. ``and_after`` says the bytes
    stop being readable here, so no later row of the same read can be numbered or read either.
    """

    row_number: int
    reason: str
    and_after: bool = False


StoredRow = RecipientRow | UnreadableRow


class MalformedRecipientFile(Exception):
    """A stored object does not have the shape we wrote; says which object, never what is in it."""


def _csv_line(fields: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue().encode("utf-8")


HEADER_LINE = _csv_line(HEADER)


def encode_row(recipient: str, personalisation: Mapping[str, Any]) -> bytes:
    """One send's line of a batch file; the group committer encodes each send on its own.

    Raises whatever the data provokes (UnicodeEncodeError, TypeError, ValueError), for this row only.
    """
    return _csv_line((recipient, json.dumps(personalisation, separators=(",", ":"), ensure_ascii=False)))


def encode_batch(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> bytes:
    return HEADER_LINE + b"".join(encode_row(recipient, personalisation) for recipient, personalisation in rows)


def decode_batch(data: bytes, row_numbers: Sequence[int] | None = None, *, key: str = "") -> dict[int, StoredRow]:
    """Rows by number (0-based, header excluded); all rows when ``row_numbers`` is None.

    A row that cannot be read is an :class:`UnreadableRow`; only a file that is not a batch file
    at all (wrong header) raises :class:`MalformedRecipientFile`.
    """
    wanted = None if row_numbers is None else set(row_numbers)
    result: dict[int, StoredRow] = {}
    for number, fields in _records(data, key):
        if wanted is not None and number not in wanted:
            continue
        if isinstance(fields, str):
            result[number] = UnreadableRow(number, fields)
            continue
        try:
            personalisation = json.loads(fields[1])
        except ValueError:
            result[number] = UnreadableRow(number, "personalisation is not JSON")
            continue
        if not isinstance(personalisation, dict):
            result[number] = UnreadableRow(number, "personalisation is not an object")
            continue
        result[number] = RecipientRow(number, fields[0], personalisation)
    return result


def batch_recipients(data: bytes, *, key: str = "") -> list[str | None]:
    """Every row's recipient in row order (None for a row that cannot be read), without the JSON.

    Reports need only the recipient of each row; skipping the JSON makes reading a batch several
    times faster than :func:`decode_batch`, and the checks on the file's shape are the same.
    """
    return [None if isinstance(fields, str) else fields[0] for _, fields in _records(data, key)]


def _lines(data: bytes, key: str) -> tuple[list[str], set[int]]:
    """The data lines' text (header dropped), and the numbers of rows that are not UTF-8."""
    if not data.startswith(HEADER_LINE) and data != HEADER_LINE.rstrip(b"\n"):
        raise MalformedRecipientFile(f"{key or 'object'} is not an API batch file")
    undecodable: set[int] = set()
    try:
        # In UTF-8 the byte b"\n" only ever encodes "\n", so text lines are the byte lines.
        texts = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        texts = []
        for index, line in enumerate(data.split(b"\n")):
            try:
                texts.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                undecodable.add(index - 1)
                texts.append("")
    del texts[0]  # the header
    if texts and not texts[-1]:
        texts.pop()
    return texts, undecodable


def _records(data: bytes, key: str) -> Iterator[tuple[int, list[str] | str]]:
    """``(row_number, [recipient, personalisation])``, or a reason when that row cannot be read.

    :func:`encode_batch` writes one physical line per row (the recipient is normalised and JSON
    escapes every line break), so row n is line n + 1 whatever happens to the rows around it. The
    csv module goes on with the next line after refusing one (a field over its size limit), and
    a record that spans several lines (an unclosed quote in a damaged object) marks each of those
    lines unreadable, so the numbering never slips. Invalid UTF-8 spoils only its own line.
    """
    texts, undecodable = _lines(data, key)
    if not undecodable:
        # Every row of an intact file is two fields on one line: one C-level pass checks that.
        try:
            records = list(csv.reader(texts))
        except csv.Error:
            pass
        else:
            if len(records) == len(texts) and all(len(fields) == 2 for fields in records):
                yield from enumerate(records)
                return
    reader = csv.reader(texts)
    number = 0
    while number < len(texts):
        before = reader.line_num
        try:
            fields: list[str] | str = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            fields = "a field is larger than the reader's limit" if "field limit" in str(exc) else "not valid CSV"
        used = max(reader.line_num - before, 1)
        if used > 1:
            for offset in range(used):
                yield number + offset, "a quoted field is never closed"
        elif number in undecodable:
            yield number, "not UTF-8"
        elif isinstance(fields, list) and len(fields) != 2:
            yield number, f"has {len(fields)} fields, not 2"
        else:
            yield number, fields
        number += used
