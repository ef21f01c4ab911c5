"""API batch objects: the recipient file that group-committed API sends share.

An API send is stored exactly like a spreadsheet row, so every notification is addressed as
(job, row) and reports treat bulk and API sends alike.  The object is a CSV with two columns:
the normalised recipient and the personalisation as a JSON object.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

HEADER = ("recipient", "personalisation")


@dataclass(frozen=True, slots=True)
class RecipientRow:
    row_number: int
    recipient: str
    personalisation: Mapping[str, Any]


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


def decode_batch(data: bytes, row_numbers: Sequence[int] | None = None, *, key: str = "") -> dict[int, RecipientRow]:
    """Rows by number (0-based, header excluded); all rows when ``row_numbers`` is None."""
    wanted = None if row_numbers is None else set(row_numbers)
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    header = next(reader, None)
    if header is None or tuple(header) != HEADER:
        raise MalformedRecipientFile(f"{key or 'object'} is not an API batch file")
    result: dict[int, RecipientRow] = {}
    for number, fields in enumerate(reader):
        if wanted is not None and number not in wanted:
            continue
        if len(fields) != 2:
            raise MalformedRecipientFile(f"{key or 'object'} row {number} has {len(fields)} fields")
        result[number] = RecipientRow(number, fields[0], json.loads(fields[1]))
    return result


def batch_recipients(data: bytes, *, key: str = "") -> list[str]:
    """Every row's recipient in row order, without decoding personalisation.

    Reports need only the recipient of each row; skipping the JSON makes reading a batch several
    times faster than :func:`decode_batch`, and the checks on the file's shape are the same.
    """
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    header = next(reader, None)
    if header is None or tuple(header) != HEADER:
        raise MalformedRecipientFile(f"{key or 'object'} is not an API batch file")
    recipients: list[str] = []
    for number, fields in enumerate(reader):
        if len(fields) != 2:
            raise MalformedRecipientFile(f"{key or 'object'} row {number} has {len(fields)} fields")
        recipients.append(fields[0])
    return recipients
