"""Report cells written as CSV: one cell at a time, or a whole Arrow column at once.

Both ways give byte for byte what ``csv.writer`` (the default dialect) writes for
``neutralise(cell)``, so a report reads the same whichever path wrote a cell:

* a cell that Excel or Sheets would run as a formula gets a leading ``'`` (see
  :func:`notify.reports.columns.neutralise`);
* a cell holding a comma, a quote, a carriage return or a line feed is quoted, its quotes doubled.

The column path is what makes reports fast: a million recipient cells are checked and escaped in
a few Arrow calls instead of a million Python calls. tests/reports/test_cells.py holds the two
paths to each other.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from notify.reports.columns import FORMULA_STARTS, neutralise

__all__ = ["csv_cell", "csv_cells", "csv_row"]

_FORMULA_BYTES = pa.array([start.encode() for start in FORMULA_STARTS], pa.binary())
_NEEDS_QUOTES = '[",\r\n]'
_NEEDS_QUOTES_BYTES = (b'"', b",", b"\r", b"\n")


def csv_cell(value: str) -> str:
    """One cell, neutralised and quoted as csv.writer quotes it; cheaper than a writer for one cell."""
    value = neutralise(value)
    if '"' in value or "," in value or "\r" in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_row(cells: Sequence[str]) -> str:
    """``cells`` neutralised and written as one CSV record, with csv.writer's line ending (CRLF).

    The default dialect matters: csv.writer quotes a cell holding any character of its line
    terminator, so a writer with another terminator would quote differently.
    """
    out = io.StringIO()
    csv.writer(out).writerow([neutralise(cell) for cell in cells])
    return out.getvalue()


def csv_cells(values: pa.Array) -> pa.StringArray:
    """Each string neutralised and quoted as a CSV cell; a null becomes the empty cell."""
    if values.null_count:
        values = values.fill_null("")
    if not len(values):
        return values
    first = pc.binary_slice(values.view(pa.binary()), 0, 1)
    formula = pc.is_in(first, value_set=_FORMULA_BYTES)
    if formula.true_count:
        values = pc.if_else(formula, pc.utf8_replace_slice(values, 0, 0, "'"), values)
    if _may_need_quotes(values):
        quote = pc.match_substring_regex(values, _NEEDS_QUOTES)
        if quote.true_count:
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(values.filter(quote), '"', '""'), '"', "")
            values = pc.replace_with_mask(values, quote, quoted)
    return values


def _may_need_quotes(values: pa.StringArray) -> bool:
    """False when no cell can need quotes: a few memchr scans of the character data, no per-cell work."""
    data = values.buffers()[2]
    if data is None:
        return False
    characters = data.to_pybytes()
    return any(characters.find(special) >= 0 for special in _NEEDS_QUOTES_BYTES)
