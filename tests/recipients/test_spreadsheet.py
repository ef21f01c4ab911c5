"""Spreadsheet uploads as a service team sees them: what is accepted, what is refused and why.

Every refusal is also checked for leaks: no recipient value may appear in a message, a reason or
a repr, because those end up in logs and API responses.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notify.db.models import TemplateType
from notify.recipients.spreadsheet import (
    FileRejected,
    RowError,
    SpreadsheetValidator,
    ValidatedFile,
)

SMS = "Hello ((name)), your code is ((code))."


def validator(content: str = SMS, kind: TemplateType = TemplateType.sms, subject: str | None = None, **kwargs: object) -> SpreadsheetValidator:
    return SpreadsheetValidator(template_type=kind, template_content=content, template_subject=subject, **kwargs)  # type: ignore[arg-type]


def validate(data: bytes, *, chunks: Iterable[int] | None = None, **kwargs: object) -> ValidatedFile:
    v = validator(**kwargs)  # type: ignore[arg-type]
    if chunks is None:
        v.feed(data)
    else:
        position = 0
        for size in chunks:
            v.feed(data[position : position + size])
            position += size
        v.feed(data[position:])
    return v.finish()


def rejected(data: bytes, **kwargs: object) -> FileRejected:
    with pytest.raises(FileRejected) as excinfo:
        validate(data, **kwargs)
    return excinfo.value


def assert_no_leak(error: FileRejected, values: Iterable[str]) -> None:
    texts = [error.message, str(error), repr(error), *(repr(e) for e in error.errors), *(e.reason for e in error.errors)]
    for value in values:
        for text in texts:
            assert value not in text


def csv_bytes(rows: list[list[str]], *, bom: bool = False, terminator: str = "\r\n") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=terminator).writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8")


GOOD = [["phone number", "name", "code"], ["(202) 555-0143", "Jane", "A1"], ["+1 212 555 0100", "Joe", "B2"]]


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("terminator", ["\r\n", "\n"])
def test_accepts_utf8_with_or_without_bom_and_either_line_ending(bom: bool, terminator: str) -> None:
    data = csv_bytes(GOOD, bom=bom, terminator=terminator)
    result = validate(data)
    assert result.row_count == 2
    assert result.header == ["phone number", "name", "code"]
    assert result.recipient_column == 0
    assert result.byte_size == len(data)
    assert result.data_end == len(data)
    assert result.billable_units == 2
    header_end = data.index(terminator.encode()) + len(terminator)
    assert result.row_offsets == [(0, header_end)]


def test_quoted_commas_quotes_and_line_breaks() -> None:
    data = csv_bytes([["phone number", "name", "code"], ["202-555-0143", 'Smith, "Jo"\nSecond line', "x,y"]])
    assert b'"Smith, ""Jo""\nSecond line"' in data
    result = validate(data)
    assert result.row_count == 1
    assert result.billable_units == 1


def test_quoted_line_break_split_across_chunks_byte_by_byte() -> None:
    data = csv_bytes([["phone number", "name", "code"], ["202-555-0143", "a\r\nb", "é"], ["2125550100", "Zoë", "c"]], bom=True)
    whole = validate(data)
    assert validate(data, chunks=[1] * len(data)) == whole
    assert whole.row_count == 2


def test_header_matching_ignores_case_spaces_underscores_and_hyphens() -> None:
    data = b"Phone_Number , NAME,c-o-d-e,Extra\n2025550143,Jane,1,whatever\n"
    result = validate(data)
    assert result.header == ["Phone_Number ", " NAME", "c-o-d-e", "Extra"]


def test_trailing_empty_columns_and_blank_lines_are_ignored() -> None:
    data = b"phone number,name,code,,\n\n2025550143,Jane,1,,\n,,,,\n  ,\t,\n\n2125550100,Joe,2\n\n\n"
    result = validate(data)
    assert result.header == ["phone number", "name", "code"]
    assert result.row_count == 2
    assert result.data_end == data.index(b"2125550100,Joe,2\n") + len(b"2125550100,Joe,2\n")


def test_blank_lines_keep_spreadsheet_rows_pointing_at_the_right_excel_row() -> None:
    data = b"phone number,name,code\n\n\n555,Jane,1\n"
    error = rejected(data)
    assert error.errors == [RowError(0, 4, "phone number", "invalid_phone", "Not enough digits")]


def test_missing_recipient_column() -> None:
    error = rejected(b"mobile,name,code\n2025550143,Jane,1\n")
    assert error.kind == "missing_recipient_column"
    assert "phone number" in error.message


def test_duplicate_recipient_column() -> None:
    error = rejected(b"phone number,name,Phone_Number,code\n")
    assert error.kind == "duplicate_recipient_column"


def test_email_recipient_column() -> None:
    error = rejected(b"phone number,name,code\n", kind=TemplateType.email, content="Hi ((name))", subject="((code))")
    assert error.kind == "missing_recipient_column"
    assert "email address" in error.message


def test_missing_placeholder_columns_are_listed() -> None:
    error = rejected(b"email address\njane@example.com\n", kind=TemplateType.email, content="Hi ((First name)), ((code))", subject="About ((Topic))")
    assert error.kind == "missing_placeholder_columns"
    assert "Topic, First name, code" in error.message


def test_duplicate_placeholder_columns() -> None:
    error = rejected(b"phone number,name,Name,code\n2025550143,a,b,c\n")
    assert error.kind == "duplicate_placeholder_columns"


def test_windows_1252_file_is_refused_with_advice() -> None:
    data = "phone number,name,code\n2025550143,Jane,1\n2125550100,café,2\n".encode("cp1252")
    error = rejected(data)
    assert error.kind == "not_utf8"
    assert "row 3" in error.message
    assert "CSV UTF-8" in error.message
    assert error.__context__ is None and error.__cause__ is None  # the decode error holds the bytes


def test_not_utf8_is_refused_while_streaming() -> None:
    v = validator()
    v.feed(b"phone number,name,code\n")
    with pytest.raises(FileRejected) as excinfo:
        v.feed(b"2025550143,caf\xe9,1\n")
    assert excinfo.value.kind == "not_utf8"
    with pytest.raises(FileRejected):
        v.finish()  # stays rejected


def test_invalid_rows_are_reported_with_row_and_column_and_never_the_value() -> None:
    values = ["+1 555 555 5555", "2029999", "07700 900123", "call-me-maybe"]
    rows = [["phone number", "name", "code"], ["2025550143", "Ok", "1"]]
    rows += [[value, "Somebody", "2"] for value in values]
    rows += [["", "Nobody Atall", "3"], ["2025550143", "", "4"], ["2025550143", "Extra", "5", "surprise!"]]
    error = rejected(csv_bytes(rows))
    assert error.kind == "row_errors"
    assert [(e.row_number, e.spreadsheet_row, e.column, e.kind) for e in error.errors] == [
        (1, 3, "phone number", "invalid_phone"),
        (2, 4, "phone number", "invalid_phone"),
        (3, 5, "phone number", "invalid_phone"),
        (4, 6, "phone number", "invalid_phone"),
        (5, 7, "phone number", "missing_recipient"),
        (6, 8, "name", "missing_value"),
        (7, 9, None, "too_many_cells"),
    ]
    assert error.errors[0].reason == "Not a valid US phone number"
    assert error.error_counts == {"invalid_phone": 4, "missing_recipient": 1, "missing_value": 1, "too_many_cells": 1}
    assert error.total_errors == 7
    assert "7 rows" in error.message
    assert_no_leak(error, [*values, "Nobody Atall", "surprise!", "5555", "2029999", "900123"])


def test_invalid_email_rows() -> None:
    data = b"email address,name\njane@example.com,Jane\nsecret-person@@agency.gov,Joe\nnot-an-address,Jo\n"
    error = rejected(data, kind=TemplateType.email, content="Hi ((name))")
    assert [(e.spreadsheet_row, e.kind, e.reason) for e in error.errors] == [
        (3, "invalid_email", "Not a valid email address"),
        (4, "invalid_email", "Not a valid email address"),
    ]
    assert_no_leak(error, ["secret-person", "agency.gov", "not-an-address"])


def test_email_file_is_accepted_without_billable_units() -> None:
    data = b"Email Address,name\r\nJane.Doe@Example.COM,Jane\r\n"
    result = validate(data, kind=TemplateType.email, content="Hi ((name))", subject="Hello")
    assert (result.row_count, result.billable_units) == (1, 0)


def test_conditional_only_placeholders_may_be_empty() -> None:
    content = "Hi ((name)).((urgent?? Please reply today.))"
    result = validate(b"phone number,name,urgent\n2025550143,Jane,\n2125550100,Joe,yes\n", content=content)
    assert result.row_count == 2
    error = rejected(b"phone number,name,urgent\n2025550143,,yes\n", content=content)
    assert [(e.column, e.kind) for e in error.errors] == [("name", "missing_value")]


def test_placeholder_used_plainly_and_conditionally_is_required() -> None:
    error = rejected(b"phone number,x\n2025550143,\n", content="((x)) ((x??shown))")
    assert [e.kind for e in error.errors] == ["missing_value"]


def test_short_rows_are_missing_values() -> None:
    error = rejected(b"phone number,name,code\n2025550143,Jane\n")
    assert [(e.column, e.kind) for e in error.errors] == [("code", "missing_value")]


def test_sms_too_long_and_billable_units() -> None:
    long_name = "x" * 1000
    error = rejected(f"phone number,name,code\n2025550143,{long_name},1\n".encode())
    assert [(e.kind, e.column) for e in error.errors] == [("sms_too_long", None)]
    assert "918" in error.errors[0].reason
    assert long_name not in error.errors[0].reason
    result = validate(f"phone number,name,code\n2025550143,{'y' * 200},1\n2125550100,Zoë,2\n".encode())
    assert result.billable_units == 2 + 1


def test_empty_message_is_a_row_error() -> None:
    error = rejected(b"phone number,show\n2025550143,no\n", content="((show?? hello))")
    assert [e.kind for e in error.errors] == ["empty_message"]


def test_error_list_is_capped_at_100_but_counts_are_complete() -> None:
    data = b"phone number,name,code\n" + b"555,,1\n" * 250
    error = rejected(data)
    assert len(error.errors) == 100
    assert error.error_counts == {"invalid_phone": 250, "missing_value": 250}
    assert error.total_errors == 500
    assert error.errors[-1].row_number == 49  # two errors a row, in file order


def test_too_many_rows_stops_early() -> None:
    v = validator(max_rows=10)
    v.feed(b"phone number,name,code\n")
    fed = 0
    with pytest.raises(FileRejected) as excinfo:
        for _ in range(1000):
            v.feed(b"2025550143,Jane,1\n")
            fed += 1
    assert excinfo.value.kind == "too_many_rows"
    assert fed == 10  # refused on the eleventh row, not at the end
    assert "10 rows" in excinfo.value.message


def test_blank_lines_do_not_count_towards_max_rows() -> None:
    assert validate(b"phone number,name,code\n" + b"2025550143,a,1\n\n" * 5, max_rows=5).row_count == 5


def test_too_large_stops_early() -> None:
    v = validator(max_bytes=1000)
    fed = 0
    with pytest.raises(FileRejected) as excinfo:
        v.feed(b"phone number,name,code\n")
        for _ in range(1000):
            v.feed(b"2025550143,Jane,1\n")
            fed += 1
    assert excinfo.value.kind == "too_large"
    assert fed < 60


def test_unclosed_quote_is_refused_before_memory_grows() -> None:
    v = validator()
    v.feed(b'phone number,name,code\n2025550143,"never closed\n')
    with pytest.raises(FileRejected) as excinfo:
        for _ in range(200):
            v.feed(b"more text inside the quote\n" * 1000)
    assert excinfo.value.kind == "malformed_csv"


def test_lone_carriage_returns_are_refused() -> None:
    error = rejected(b"phone number,name,code\r2025550143,Jane,1\r")
    assert error.kind == "malformed_csv"


@pytest.mark.parametrize(
    ("data", "kind"),
    [(b"", "no_rows"), (b"\xef\xbb\xbf", "no_rows"), (b"phone number,name,code\n", "no_rows"), (b"phone number,name,code\n\n,,\n", "no_rows")],
)
def test_files_without_rows(data: bytes, kind: str) -> None:
    assert rejected(data).kind == kind


def test_last_row_without_line_break() -> None:
    data = b"phone number,name,code\n2025550143,Jane,1"
    result = validate(data)
    assert (result.row_count, result.data_end) == (1, len(data))


def test_row_offsets_every_n_rows() -> None:
    lines = [b"phone number,name,code\n"] + [f"2025550143,N{n},{n}\n".encode() for n in range(25)]
    data = b"".join(lines)
    result = validate(data, index_every=10)
    starts = [sum(map(len, lines[: n + 1])) for n in (0, 10, 20)]
    assert result.row_offsets == list(zip((0, 10, 20), starts))


def _outcome(data: bytes, chunks: list[int] | None) -> object:
    try:
        return validate(data, chunks=chunks)
    except FileRejected as exc:
        return (exc.kind, exc.message, exc.errors, exc.error_counts)


cells = st.one_of(
    st.sampled_from(["2025550143", "(212) 555-0100", "555", "", " ", "a,b", 'say "hi"', "two\nlines", "x\r\ny", "é", "👍", "caf\u00e9"]),
    st.text(max_size=6),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(cells, min_size=0, max_size=4), max_size=8),
    bom=st.booleans(),
    terminator=st.sampled_from(["\r\n", "\n"]),
    chunks=st.lists(st.integers(1, 17), min_size=1, max_size=20),
)
def test_any_chunking_gives_the_same_outcome_as_one_shot(rows: list[list[str]], bom: bool, terminator: str, chunks: list[int]) -> None:
    """Valid or not, results and refusals must not depend on where the chunks split."""
    data = csv_bytes([["phone number", "name", "code"], *rows], bom=bom, terminator=terminator)
    assert _outcome(data, chunks) == _outcome(data, None)
    assert _outcome(data, [1] * len(data)) == _outcome(data, None)
