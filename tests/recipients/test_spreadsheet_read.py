"""Reading stored spreadsheets back: offsets from validation must land exactly on the same rows."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notify.db.models import TemplateType
from notify.recipients.spreadsheet import (
    FileRejected,
    MalformedSpreadsheet,
    SpreadsheetRow,
    SpreadsheetValidator,
    ValidatedFile,
    byte_range_for_rows,
    parse_rows,
)

PHONES = ["(202) 555-0143", "+1 212 555 0100", "2125550199", "1-415-555-0123"]
EXPECTED = {"(202) 555-0143": "+12025550143", "+1 212 555 0100": "+12125550100", "2125550199": "+12125550199", "1-415-555-0123": "+14155550123"}
CONTENT = "Hi ((name))"


def validate(data: bytes, chunk: int | None = None, index_every: int = 1) -> ValidatedFile:
    v = SpreadsheetValidator(template_type=TemplateType.sms, template_content=CONTENT, template_subject=None, index_every=index_every)
    step = chunk or len(data) or 1
    for start in range(0, len(data), step):
        v.feed(data[start : start + step])
    return v.finish()


def read(data: bytes, file: ValidatedFile, start: int, end: int, first: int) -> list[SpreadsheetRow]:
    return list(
        parse_rows(data[start:end], first_row_number=first, header=file.header, recipient_column=file.recipient_column,
                   template_type=TemplateType.sms, default_region="US", allow_international=False, skip_bom=start == 0)
    )


def build(rows: list[tuple[str, str]], blanks: list[int], bom: bool, terminator: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(["phone number", "name", "note"])
    for index, (phone, name) in enumerate(rows):
        for _ in range(blanks[index % len(blanks)] if blanks else 0):
            buffer.write(terminator if index % 2 else "," * 2 + terminator)
        writer.writerow([phone, name, f"n{index}"])
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8")


names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), min_size=1, max_size=12).filter(str.strip)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(st.sampled_from(PHONES), st.one_of(names, st.sampled_from(['a\nb', 'x, "y"', "é\r\nü", "𝄞"]))), min_size=1, max_size=12),
    blanks=st.lists(st.integers(0, 2), max_size=3),
    bom=st.booleans(),
    terminator=st.sampled_from(["\r\n", "\n"]),
    chunks=st.lists(st.integers(1, 40), min_size=1, max_size=8),
)
def test_offsets_and_parse_rows_reproduce_the_validated_rows(rows: list[tuple[str, str]], blanks: list[int], bom: bool, terminator: str, chunks: list[int]) -> None:
    data = build(rows, blanks, bom, terminator)
    file = validate(data)
    # Arbitrary chunk boundaries (inside UTF-8 characters, CRLFs and quoted line breaks) change nothing.
    v = SpreadsheetValidator(template_type=TemplateType.sms, template_content=CONTENT, template_subject=None, index_every=1)
    position, turn = 0, 0
    while position < len(data):
        size = chunks[turn % len(chunks)]
        v.feed(data[position : position + size])
        position, turn = position + size, turn + 1
    assert v.finish() == file

    assert file.row_count == len(rows)
    assert [n for n, _ in file.row_offsets] == list(range(len(rows)))
    # Every indexed offset starts a slice that parses back to exactly that row and the rest.
    for row_number, offset in file.row_offsets:
        parsed = read(data, file, offset, file.data_end, row_number)
        assert [r.row_number for r in parsed] == list(range(row_number, len(rows)))
        for got, (phone, name) in zip(parsed, rows[row_number:]):
            assert got.recipient == EXPECTED[phone]
            assert got.values == {"phone number": phone, "name": name, "note": f"n{got.row_number}"}
    # Ranged reads through byte_range_for_rows.
    first, last = len(rows) // 3, len(rows) - 1
    start, end, at = byte_range_for_rows(file.row_offsets, file.data_end, first, last)
    assert [r.row_number for r in read(data, file, start, end, at)] == list(range(at, last + 1))


def test_sparse_index_ranges() -> None:
    offsets = [(0, 30), (10, 300), (20, 600)]
    assert byte_range_for_rows(offsets, 900, 0, 0) == (30, 300, 0)
    assert byte_range_for_rows(offsets, 900, 5, 9) == (30, 300, 0)
    assert byte_range_for_rows(offsets, 900, 5, 10) == (30, 600, 0)
    assert byte_range_for_rows(offsets, 900, 10, 15) == (300, 600, 10)
    assert byte_range_for_rows(offsets, 900, 12, 25) == (300, 900, 10)
    assert byte_range_for_rows(offsets, 900, 25, 29) == (600, 900, 20)
    assert byte_range_for_rows([[0, 3]], 50, 0, 4) == (3, 50, 0)  # lists from JSON work too
    with pytest.raises(ValueError):
        byte_range_for_rows(offsets, 900, 5, 4)


def test_sparse_index_ranged_reads_on_a_real_file() -> None:
    data = build([(PHONES[n % 4], f"Name {n}\nline") for n in range(95)], [0, 1], True, "\r\n")
    file = validate(data, chunk=7, index_every=10)
    assert [n for n, _ in file.row_offsets] == list(range(0, 95, 10))
    for first, last in [(0, 0), (3, 17), (40, 40), (89, 94), (0, 94)]:
        start, end, at = byte_range_for_rows(file.row_offsets, file.data_end, first, last)
        rows = read(data, file, start, end, at)
        wanted = [r for r in rows if first <= r.row_number <= last]
        assert [r.row_number for r in wanted] == list(range(first, last + 1))
        assert all(r.values["name"] == f"Name {r.row_number}\nline" for r in wanted)


def test_reading_from_the_start_of_the_file_skips_the_bom_and_header_is_data() -> None:
    data = b"\xef\xbb\xbfphone number,name\n2025550143,Jane\n"
    file = validate(data)
    assert file.row_offsets == [(0, len(b"\xef\xbb\xbfphone number,name\n"))]
    rows = read(data, file, file.row_offsets[0][1], file.data_end, 0)
    assert [(r.row_number, r.recipient, r.values) for r in rows] == [(0, "+12025550143", {"phone number": "2025550143", "name": "Jane"})]


def test_repr_of_a_row_does_not_show_recipient_data() -> None:
    row = SpreadsheetRow(3, "+12025550143", {"phone number": "202 555 0143", "name": "Jane Secret"})
    assert "555" not in repr(row) and "Secret" not in repr(row)


def test_a_recipient_that_no_longer_validates_is_reported_without_the_value() -> None:
    with pytest.raises(MalformedSpreadsheet) as excinfo:
        list(parse_rows(b"2025550143,a\n+1 555 555 5555,b\n", first_row_number=7, header=["phone number", "name"], recipient_column=0,
                        template_type=TemplateType.sms, default_region="US", allow_international=False, skip_bom=False))
    assert "Row 8" in str(excinfo.value)
    assert "5555" not in str(excinfo.value)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


def test_email_rows_are_normalised() -> None:
    rows = list(parse_rows(b" Jane.Doe@Example.COM ,x\n\n", first_row_number=0, header=["email address", "n"], recipient_column=0,
                           template_type=TemplateType.email, default_region="US", allow_international=False, skip_bom=False))
    assert [(r.recipient, r.values) for r in rows] == [("Jane.Doe@example.com", {"email address": " Jane.Doe@Example.COM ", "n": "x"})]


def test_rejected_file_never_yields_a_validated_file() -> None:
    v = SpreadsheetValidator(template_type=TemplateType.sms, template_content=CONTENT, template_subject=None)
    v.feed(b"phone number,name\n555,Jane\n")
    with pytest.raises(FileRejected):
        v.finish()
