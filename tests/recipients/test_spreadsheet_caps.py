"""Caps on a spreadsheet's shape, and cells refused with a reason that says what is wrong.

A 1 MB file of 500,000 header columns used to be accepted and cost 8 ms of CPU per row; a cell
over the csv module's size limit was reported as "a line break in an unexpected place"; NUL
characters reached SMS bodies and reports; an email row whose conditional placeholder emptied
its body was accepted, then failed at delivery.
"""

from __future__ import annotations

from notify.db.models import TemplateType
from tests.recipients.test_spreadsheet import assert_no_leak, rejected, validate


def test_a_header_with_too_many_columns_is_refused_at_once() -> None:
    header = "phone number,name,code" + ",extra" * 499_997
    error = rejected(f"{header}\n2025550143,Ann,1\n".encode(), max_columns=1000)
    assert error.kind == "too_many_columns"
    assert error.message.startswith("The file has 500,000 columns; the most is 1,000.")


def test_a_row_with_too_many_cells_is_refused_at_once() -> None:
    data = b"phone number,name,code\n2025550143,Ann,1\n2025550144,Bo,2" + b"," * 5000 + b"\n"
    error = rejected(data, max_columns=1000)
    assert error.kind == "too_many_columns"
    assert error.message.startswith("Row 3 has 5,003 cells; the most is 1,000.")


def test_a_long_cell_is_a_row_error_naming_its_column() -> None:
    secret = "Longcell-" + "q" * 600
    error = rejected(f"phone number,name,code\n2025550143,Ann,1\n2025550144,{secret},2\n".encode(),
                     max_cell_chars=500)
    assert [(e.spreadsheet_row, e.column, e.kind, e.reason) for e in error.errors] == [
        (3, "name", "cell_too_long", "The cell is longer than 500 characters"),
    ]
    assert_no_leak(error, [secret])


def test_a_cell_over_the_csv_limit_says_so_not_line_break() -> None:
    secret = "Hugecell-" + "z" * 200_000
    error = rejected(f"phone number,name,code\n2025550143,Ann,1\n2025550144,Bo,{secret}\n".encode())
    assert error.kind == "cell_too_long"
    assert error.message.startswith("Row 3, column 'code': the cell is longer than 10,000 characters.")
    assert "line break" not in error.message
    assert_no_leak(error, [secret])


def test_nul_characters_in_cells_are_row_errors() -> None:
    error = rejected(b"phone number,name,code\n2025550143,An\x00n,1\n2025550144,Bo,2\n")
    assert [(e.spreadsheet_row, e.column, e.kind, e.reason) for e in error.errors] == [
        (2, "name", "nul_character", "Contains a NUL character"),
    ]


def test_an_email_row_whose_body_empties_is_a_row_error() -> None:
    data = b"email address,show\nann@example.com,yes\nbo@example.com,no\n"
    error = rejected(data, content="((show??Your results are ready.))", kind=TemplateType.email, subject="Results")
    assert [(e.spreadsheet_row, e.kind) for e in error.errors] == [(3, "empty_message")]
    # A body with text of its own can never be empty: every row is fine.
    assert validate(data, content="Hello. ((show??Your results are ready.))", kind=TemplateType.email,
                    subject="Results").row_count == 2
