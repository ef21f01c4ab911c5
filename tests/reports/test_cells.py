"""Cells written a column at a time (Arrow) or one at a time are exactly what csv.writer writes."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notify.reports.cells import csv_cell, csv_cells, csv_row
from notify.reports.columns import neutralise

# Characters that matter to CSV or to spreadsheets, plus ordinary and non-ASCII text.
CELL = st.text(alphabet=st.sampled_from(list('=+-@\t\r\n",\' ab7é€\u00a0\u2028😀')), max_size=12)


def written(cells: list[str]) -> str:
    """What the csv module (default dialect, as reports use it) writes for these cells, neutralised."""
    out = io.StringIO()
    csv.writer(out).writerow([neutralise(cell) for cell in cells])
    return out.getvalue()


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CELL, min_size=1, max_size=40))
def test_a_column_is_written_as_the_csv_module_writes_each_cell(values: list[str]) -> None:
    cells = csv_cells(pa.array(values, pa.string())).to_pylist()
    assert ",".join(cells) + ",end\r\n" == written([*values, "end"])
    assert [csv_cell(value) for value in values] == cells
    assert csv_row([*values, "end"]) == written([*values, "end"])


def test_formulas_are_neutralised_before_quoting() -> None:
    values = ["=SUM(A1)", "+1 202-555-0143", "-1", "@home", "\tx", "\rx", "=a,b", 'say "hi"', "", "plain"]
    assert csv_cells(pa.array(values)).to_pylist() == [
        "'=SUM(A1)", "'+1 202-555-0143", "'-1", "'@home", "'\tx", "\"'\rx\"", "\"'=a,b\"", '"say ""hi"""', "", "plain",
    ]


def test_nulls_and_slices() -> None:
    assert csv_cells(pa.array([None, "=x", None])).to_pylist() == ["", "'=x", ""]
    assert csv_cells(pa.array(["a,b", "=x", "c"])[1:]).to_pylist() == ["'=x", "c"]
    assert csv_cells(pa.array([], pa.string())).to_pylist() == []
