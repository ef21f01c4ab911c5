"""Placeholders: finding ``((name))`` in template text and filling them in.

This is the single place that decides how a template's placeholder names are
matched against personalisation keys and CSV column headers
(:func:`normalise_key`).  Keeping it in one function means the API, the CSV
validator and the renderer can never disagree about whether ``First name``
and ``first_name`` are the same column.

The syntax follows GOV.UK Notify so that existing templates keep working:

* ``((name))`` is replaced by the value for ``name``.
* ``((name??some text))`` is a *conditional* placeholder: ``some text`` is
  shown when the value for ``name`` is yes-ish (see :func:`is_yes`) and removed
  otherwise.
* Whitespace just inside the brackets is ignored: ``(( name ))`` is ``name``.
* Anything that is not exactly two opening brackets, some text without
  brackets, and two closing brackets is left as literal text.  So
  ``(((name)))`` is the placeholder ``name`` wrapped in literal single
  brackets, and ``((a(b)c))`` is not a placeholder at all.

Nothing here may put a personalisation *value* into an exception or a log:
values are PII.  Errors carry placeholder *names* only, which come from the
template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

ListStyle = Literal["inline", "bullets"]
"""How a list value is written into text.

``"inline"`` gives ``a, b and c`` (for SMS and email subjects, where a line
break is either costly or impossible).  ``"bullets"`` gives a markdown bulleted
list, which is how GOV.UK Notify renders lists in an email body.
"""

_PLACEHOLDER = re.compile(
    r"\(\("  # opening ((
    r"([^()]+)"  # body: a name, or name??conditional text; no brackets inside
    r"\)\)"  # closing ))
)

_CONDITIONAL_SEPARATOR = "??"

# GOV.UK Notify's list of values that switch a conditional placeholder on.
# "y", "t", "include" and "show" are not in our brief but GOV.UK accepts them,
# and a CSV that works there must work here.
_YES_VALUES = frozenset({"yes", "y", "true", "t", "1", "include", "show"})


def normalise_key(name: str) -> str:
    """Return the form of a placeholder name or column header used for matching.

    GOV.UK Notify treats ``First name``, ``first_name``, ``FIRST-NAME`` and
    ``firstname`` as the same key (its ``InsensitiveDict``), so spreadsheets
    whose headers differ from the template in case or separators still work.
    We lower-case and drop spaces, underscores and hyphens.  We drop *every*
    kind of whitespace, not just ASCII spaces, because headers exported from
    Excel often carry non-breaking spaces that nobody can see.
    """
    return "".join(ch for ch in name.lower() if ch not in "_-" and not ch.isspace())


@dataclass(frozen=True)
class Placeholder:
    """One ``((...))`` occurrence, parsed.

    ``conditional_text`` is ``None`` for a plain placeholder.  For a
    conditional one it is everything after the first ``??``, untrimmed,
    because the author's spacing inside the shown text is deliberate.
    """

    name: str
    conditional_text: str | None

    @property
    def key(self) -> str:
        """The :func:`normalise_key` form of :attr:`name`."""
        return normalise_key(self.name)


class MissingPersonalisation(Exception):
    """Personalisation did not supply a value for some placeholders.

    ``names`` lists every missing placeholder, as spelled in the template and
    in order of first appearance, so a caller can report them all at once
    rather than one per attempt.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(f"Missing personalisation: {', '.join(names)}")


def _parse(body: str) -> Placeholder | None:
    """Parse the text between ``((`` and ``))``; ``None`` if it has no name.

    ``(( ))`` and ``((??text))`` name nothing, so we leave them as literal
    text rather than demand a personalisation key that cannot be typed.
    """
    name, separator, conditional_text = body.partition(_CONDITIONAL_SEPARATOR)
    name = name.strip()
    if not name:
        return None
    return Placeholder(name=name, conditional_text=conditional_text if separator else None)


def _iter_placeholders(text: str) -> Iterable[Placeholder]:
    for match in _PLACEHOLDER.finditer(text):
        placeholder = _parse(match.group(1))
        if placeholder is not None:
            yield placeholder


def unique_names(names: Iterable[str]) -> list[str]:
    """Drop names that :func:`normalise_key` considers repeats, keeping order.

    The first spelling wins: ``((First name))`` then ``((first_name))`` is one
    placeholder, ``First name``, because one value fills both.
    """
    seen: set[str] = set()
    unique: list[str] = []
    for name in names:
        key = normalise_key(name)
        if key not in seen:
            seen.add(key)
            unique.append(name)
    return unique


def placeholders(text: str) -> list[str]:
    """Return the placeholder names in ``text``, unique, in order of first use.

    Conditional placeholders contribute their name (the part before ``??``).
    Names that differ only in case, spaces, ``_`` or ``-`` count once.
    """
    return unique_names(p.name for p in _iter_placeholders(text))


def is_yes(value: object) -> bool:
    """Decide whether a value switches a conditional placeholder on.

    Spreadsheet users type ``Yes``, ``TRUE`` or ``1``; API users send JSON
    ``true``.  Matching is case-insensitive and ignores surrounding spaces.
    Anything else, including ``None`` and the empty string, is "no".
    """
    if value is None:
        return False
    return str(value).strip().lower() in _YES_VALUES


def format_list(items: Iterable[object], style: ListStyle) -> str:
    """Write a list value into text.

    Items are stringified and stripped; ``None`` and blank items are dropped
    (a spreadsheet row with an empty cell should not produce an empty bullet).
    An empty list becomes the empty string.

    ``inline`` joins as ``a``, ``a and b``, ``a, b and c``.  ``bullets`` gives
    ``"\\n\\n* a\\n* b"``: the leading blank line is what GOV.UK Notify emits,
    so that a list placed mid-sentence still starts its own markdown block.
    """
    values = [str(item).strip() for item in items if item is not None]
    values = [value for value in values if value]
    if not values:
        return ""
    if style == "bullets":
        return "\n\n" + "\n".join(f"* {value}" for value in values)
    if len(values) == 1:
        return values[0]
    return f"{', '.join(values[:-1])} and {values[-1]}"


def format_value(value: object, list_style: ListStyle) -> str:
    """Turn one personalisation value into the text that replaces a placeholder.

    ``None`` becomes the empty string (never the word ``None``; :func:`substitute`
    then reports a plain placeholder as missing).  Lists and tuples go through
    :func:`format_list`.  Everything else is ``str(value)``; API values arrive
    here already as text (notify.templates.personalisation).
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return format_list(value, list_style)
    return str(value)


def substitute(
    text: str,
    personalisation: Mapping[str, object],
    *,
    list_style: ListStyle = "inline",
) -> str:
    """Fill every placeholder in ``text`` from ``personalisation``.

    Keys are matched with :func:`normalise_key`; if two keys normalise to the
    same form the later one wins (GOV.UK Notify behaves the same way).  A plain
    placeholder whose value is ``None``, blank or an empty list counts as
    missing, exactly as a blank spreadsheet cell does: "Hello , ..." is never
    what the sender meant.  A conditional placeholder takes such a value as
    "no", as a blank cell is.  Conditional placeholders need their key,
    because a missing column is far more likely a mistake than a deliberate "no".

    Substitution is a single pass, so a value that itself looks like
    ``((name))`` is inserted literally and never expanded.

    Raises :class:`MissingPersonalisation` naming every missing placeholder.
    """
    values = {normalise_key(key): value for key, value in personalisation.items()}
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        placeholder = _parse(match.group(1))
        if placeholder is None:
            return match.group(0)
        key = placeholder.key
        if key not in values:
            missing.append(placeholder.name)
            return ""
        value = values[key]
        if placeholder.conditional_text is not None:
            return placeholder.conditional_text if is_yes(value) else ""
        filled = format_value(value, list_style)
        if not filled.strip():
            missing.append(placeholder.name)
        return filled

    # One pass both fills and collects what is missing; the partly filled
    # text is thrown away if anything is.
    filled = _PLACEHOLDER.sub(replace, text)
    if missing:
        raise MissingPersonalisation(unique_names(missing))
    return filled
