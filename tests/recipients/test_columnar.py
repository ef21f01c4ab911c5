"""Column-wise reading (Arrow) must number rows and split cells exactly as the validator did."""

from __future__ import annotations

import csv
import io
import sys

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from notify.db.models import TemplateType
from notify.recipients import columnar
from notify.recipients.columnar import PYTHON_WHITESPACE, read_spreadsheet_columns
from notify.recipients.spreadsheet import FileRejected, SpreadsheetValidator, ValidatedFile
from notify.recipients.columnar import StreamingRowReader

PHONES = ["(202) 555-0143", "+1 212 555 0100", "2125550199", "1-415-555-0123"]
BLANKS = ["", ",,", " ,\t,", "\u00a0,,", "\x1c,\u3000,", "\"\",,", " ", "\u00a0"]
TEXT = st.text(alphabet=st.sampled_from(list('ab é=+,"\r\n\t\u00a0\u2028\x1c')), max_size=8)


def test_the_whitespace_set_is_pythons() -> None:
    assert PYTHON_WHITESPACE == "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


def validate(data: bytes) -> ValidatedFile:
    validator = SpreadsheetValidator(template_type=TemplateType.sms, template_content="Hello", template_subject=None)
    validator.feed(data)
    return validator.finish()


def reference(region: bytes, recipient_column: int, width: int) -> tuple[list[str], list[list[str]]]:
    """The validator's own reader, and a job report's rule for the other cells."""
    reader = StreamingRowReader(first_row_number=0, skip_bom=False)
    rows = [cells for _, cells in reader.feed(region) + reader.finish()]
    recipients = [cells[recipient_column] if recipient_column < len(cells) else "" for cells in rows]
    others = [([c for i, c in enumerate(cells) if i != recipient_column] + [""] * width)[:width] for cells in rows]
    return recipients, others


@st.composite
def spreadsheets(draw: st.DrawFn) -> tuple[bytes, int]:
    recipient_column = draw(st.integers(0, 2))
    header = ["name", "note"]
    header.insert(recipient_column, "phone number")
    header += [""] * (draw(st.integers(0, 3)) == 0)  # a trailing empty header cell (dropped by the validator)
    lines = [",".join(header)]
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(BLANKS)))
            continue
        cells = [draw(TEXT), draw(TEXT)]
        cells.insert(recipient_column, draw(st.sampled_from(PHONES)))
        ragged = draw(st.integers(0, 7))
        if ragged == 0 and recipient_column < 2:
            cells = cells[:-1]  # a short row
        elif ragged == 1:
            cells += [""]  # an extra empty cell
        out = io.StringIO()
        csv.writer(out).writerow(cells)  # the default dialect quotes cells holding \r or \n
        line = out.getvalue().removesuffix("\r\n")
        if draw(st.booleans()) and all(c not in line for c in ',\r\n"') and '"' not in cells[0]:
            line = line.replace("a", 'a"', 1)  # a quote inside an unquoted cell is a character
        lines.append(line)
    end = draw(st.sampled_from(["\r\n", "\n"]))
    return (end.join(lines) + end * draw(st.integers(0, 2))).encode("utf-8"), recipient_column


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(spreadsheets(), st.booleans())
def test_columns_match_the_validators_rows(sample: tuple[bytes, int], other_columns: bool) -> None:
    data, _ = sample
    try:
        file = validate(data)
    except FileRejected:
        assume(False)
        raise
    region = data[file.row_offsets[0][1] : file.data_end]
    width = len(file.header) - 1 if other_columns else 0
    recipients, others = reference(region, file.recipient_column, width)
    assert len(recipients) == file.row_count

    read = read_spreadsheet_columns(
        region, header_width=len(file.header), recipient_column=file.recipient_column, other_columns=other_columns
    )
    assert read.recipients.to_pylist() == recipients
    assert [list(row) for row in zip(*(c.to_pylist() for c in read.others), strict=True)] == (others if width else [])

    # Whenever Arrow accepts a file it must agree on its own, without the csv-module fallback.
    arrow = columnar._read_with_arrow(region, len(file.header), file.recipient_column, width)
    if arrow is not None:
        assert arrow.recipients.to_pylist() == recipients
        assert [list(row) for row in zip(*(c.to_pylist() for c in arrow.others), strict=True)] == (
            others if width else []
        )


@pytest.mark.parametrize(
    "region, recipients",
    [
        (b"(202) 555-0143,Ann\r\n\r\n , \r\n2125550199,\"Bo, b\"\r\n", ["(202) 555-0143", "2125550199"]),
        (b'2125550199,"two\r\nlines"\n2125550198,x\n', ["2125550199", "2125550198"]),
        (b"2125550199,a\n2125550198\n", ["2125550199", "2125550198"]),  # a short row: the csv module reads it
    ],
)
def test_blank_rows_take_no_row_number(region: bytes, recipients: list[str]) -> None:
    read = read_spreadsheet_columns(region, header_width=2, recipient_column=0, other_columns=True)
    assert read.recipients.to_pylist() == recipients
    assert len(read.others) == 1 and len(read.others[0]) == len(recipients)
