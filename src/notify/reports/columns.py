"""What a report's columns are and how each cell is written.

One place for the header and spreadsheet-formula neutralising, so the streamed endpoint, the CLI
and asynchronous exports write identical files. The Status column's wording is
:func:`notify.statuses.label`'s; :mod:`notify.reports.cells` writes cells as CSV.
"""

from __future__ import annotations

from collections.abc import Sequence

UTF8_BOM = "\ufeff"
MISSING_RECIPIENT = "[not available: the file has expired or is missing]"
UNREADABLE_RECIPIENT = "[not available: this row of the file cannot be read]"

# Cells a spreadsheet would execute as a formula (OWASP's CSV-injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

BASE_COLUMNS = (
    "Template",
    "Sent By",
    "Carrier",
    "Status",
    "Time",
    "Batch File",
    "Carrier Response",
    "Row Number",
    "Client Reference",
)


def recipient_heading(template_type: str | None) -> str:
    return {"sms": "Phone Number", "email": "Email Address"}.get(template_type or "", "Recipient")


def header(template_type: str | None, file_columns: Sequence[str] = ()) -> list[str]:
    """A job report adds the uploaded file's own columns (except its recipient column) at the end."""
    return [recipient_heading(template_type), *BASE_COLUMNS, *file_columns]


def neutralise(cell: str) -> str:
    """Prefix a cell that Excel or Sheets would run as a formula, so it shows as text."""
    if cell and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
