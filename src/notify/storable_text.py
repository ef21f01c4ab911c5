"""Text that can be stored: valid UTF-8 without NUL characters.

A Python ``str`` can hold things no file or database column here can: a lone UTF-16 surrogate
(JSON ``"\\ud800"`` decodes to one, and so do undecodable command-line bytes) cannot be encoded
as UTF-8, and PostgreSQL ``text`` cannot hold NUL.  Either one, reaching a shared batch object or
a COPY, used to fail every request in the batch.  So every edge that accepts text asks
:func:`text_problem` first and refuses the request with a message naming the field; the
message never quotes the text itself, which may be personalisation.
"""

from __future__ import annotations

import re
from typing import Any

NUL_MESSAGE = "must not contain NUL characters"
SURROGATE_MESSAGE = "must be valid Unicode text (it contains an unpaired UTF-16 surrogate, \\ud800-\\udfff)"

# Any character PostgreSQL text or UTF-8 cannot hold; one C-speed scan on the happy path.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """What makes ``value`` unstorable, phrased to follow a field name; None when it is fine."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


class UnstorableText(ValueError):
    """A field holds text that cannot be stored; ``field`` names it, the text itself is never kept."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field, self.problem = field, problem


def check_text(value: str, field: str) -> str:
    """Return ``value`` unchanged, or raise :class:`UnstorableText` naming ``field``."""
    problem = text_problem(value)
    if problem is not None:
        raise UnstorableText(field, problem)
    return value


def shown_name(name: str, limit: int = 60) -> str:
    """A caller-chosen name (a personalisation key) cut short enough to repeat in an error message."""
    return name if len(name) <= limit else name[:limit] + "…"


def first_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field path, problem) of the first unstorable string in a JSON-like value, else None.

    Paths read like the request: ``personalisation.name``, ``rows[3][1]``; a bad key is reported
    as "a key of <parent>", since the key itself cannot be shown.
    """
    if isinstance(value, str):
        problem = text_problem(value)
        return (path or "body", problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                continue
            problem = text_problem(key)
            if problem:
                return (f"a key of {path or 'the body'}", problem)
            found = first_unstorable(item, f"{path}.{shown_name(key)}" if path else shown_name(key))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = first_unstorable(item, f"{path}[{index}]")
            if found:
                return found
    return None
