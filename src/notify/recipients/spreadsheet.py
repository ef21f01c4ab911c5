"""Recipient spreadsheets: streaming validation on upload, and reading rows back to send.

This is the only module the rest of Notify imports for CSV uploads; the work is split between
:mod:`notify.recipients.spreadsheet_validate` and :mod:`notify.recipients.spreadsheet_read`.

Decisions every caller relies on:

* **Row numbers.** ``row_number`` is 0-based, excludes the header, and counts *non-blank* data
  records only. A record whose cells are all empty (or whitespace) is skipped by both the
  validator and :func:`parse_rows` and gets no number, so ``(job_id, row_number)`` is stable
  between upload and sending. ``RowError.spreadsheet_row`` is what Excel shows instead: header
  = 1, then one per CSV record, blank records included (a cell holding line breaks is still one
  row). With no blank rows, ``spreadsheet_row == row_number + 2``.
* **Empty placeholder cells.** A placeholder used plainly (``((name))``) anywhere in the template
  needs a non-blank cell, else the row gets a ``missing_value`` error. A placeholder used *only*
  as a conditional (``((name??text))``) may be empty: that means "no". Cell values are used
  exactly as written (not stripped) for rendering, so validation and sending agree on length.
* **Offsets.** Byte offsets refer to the file exactly as uploaded, BOM included. ``data_end``
  is just past the last non-blank data record (trailing blank rows are excluded).
* **Columns.** Headers match template placeholders with ``normalise_key`` (case, spaces, ``_``
  and ``-`` ignored). Trailing empty header cells are dropped; extra columns are allowed; a
  placeholder (or the recipient column) matched by two columns rejects the file.
"""

from notify.recipients.spreadsheet_read import (
    MalformedSpreadsheet,
    SpreadsheetRow,
    ValidatedFile,
    byte_range_for_rows,
    parse_rows,
)
from notify.recipients.spreadsheet_validate import FileRejected, RowError, SpreadsheetValidator

__all__ = [
    "FileRejected",
    "MalformedSpreadsheet",
    "RowError",
    "SpreadsheetRow",
    "SpreadsheetValidator",
    "ValidatedFile",
    "byte_range_for_rows",
    "parse_rows",
]
