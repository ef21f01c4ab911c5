"""Rules a spreadsheet row must meet beyond its recipient, shared out of the validator's hot loop.

The validator (:mod:`notify.recipients.spreadsheet_validate`) applies them; they live here so
that module stays about streaming, numbering and collecting errors.
"""

from __future__ import annotations

from collections.abc import Callable

from notify.templates import MissingPersonalisation, normalise_key, placeholders, substitute

__all__ = ["email_body_can_be_empty", "email_body_filler", "overlong_column"]


def email_body_can_be_empty(content: str) -> bool:
    """Whether some row could empty this email body: only if no literal text survives empty values.

    Literal text is in every rendering, and values and conditional text only add to it; so a body
    whose every placeholder is empty (conditionals off) still has text in every row.
    """
    try:
        return not substitute(content, {name: "" for name in placeholders(content)}).strip()
    except MissingPersonalisation:
        # A plain placeholder: a blank value is a missing one (a row error), so every row that
        # passes fills it with text, and the body is never empty.
        return False


def email_body_filler(content: str, columns: dict[str, int]) -> Callable[[list[str]], str]:
    """A function from a row's cells to its email body, exactly as ``render_email`` fills it."""
    keyed = [(name, columns[normalise_key(name)]) for name in placeholders(content)]

    def body(cells: list[str]) -> str:
        return substitute(content, {name: cells[index] for name, index in keyed}, list_style="bullets")

    return body


def overlong_column(text: str, limit: int) -> tuple[int, bool] | None:
    """The first cell of the record starting ``text`` that holds more than ``limit`` characters.

    Returns its index and whether it is a quoted cell spanning lines (most likely a quote mark
    that is never closed), or None when no cell is that long. Only used once csv has refused the
    record, so a plain character walk is fast enough; it follows csv's rules (quoted cells may
    hold commas and line breaks, "" is one quote).
    """
    column, size, quoted, lines, index = 0, 0, False, False, 0
    while index < len(text):
        char = text[index]
        if quoted:
            if char == '"':
                if text.startswith('"', index + 1):
                    size += 1
                    index += 1
                else:
                    quoted = False
            else:
                size += 1
                lines = lines or char == "\n"
        elif char == '"':
            quoted = True
        elif char == ",":
            column, size, lines = column + 1, 0, False
        elif char in "\r\n":
            return None
        else:
            size += 1
        if size > limit:
            return column, lines
        index += 1
    return None
