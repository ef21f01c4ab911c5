"""What an API caller may send as personalisation, and the text it becomes.

A spreadsheet cell is always text; a JSON personalisation value can be anything, and used to be
rendered with ``str()`` ("True", "{'a': 1}") or stored however large it was, until the stored batch
could no longer be read back.  :func:`clean_personalisation` turns a request's personalisation into
what a spreadsheet row would hold, before anything is rendered or stored:

* text stays as it is; ``null`` stays ``None`` (the renderer reports a plain placeholder with
  ``None`` or blank text as missing, as it does for a blank cell);
* numbers and ``true``/``false`` become their JSON text (``1.5``, ``true``), never Python's repr;
  ``NaN`` and infinities are refused;
* a list of those is kept (GOV.UK Notify documents lists: bullets in an email, "a, b and c" in
  text), as a list of text; lists inside lists and objects are refused;
* limits on the number of keys, the length of one value and the encoded size of the whole
  object keep every stored row readable (see README, "Limits").

Errors name the key and the limit, never the value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from notify.storable_text import shown_name

CleanValue = str | list[str] | None


@dataclass(frozen=True, slots=True)
class PersonalisationLimits:
    max_keys: int
    max_value_chars: int
    max_bytes: int


class PersonalisationRejected(ValueError):
    """The personalisation object breaks a rule or a limit; the message says which, for which key."""


def scalar_text(value: object) -> str | None:
    """The text of a JSON scalar, or None if ``value`` is not one (bool before int: True is an int)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not finite")
        return json.dumps(value)
    return None


def _clean_value(key: str, value: object) -> CleanValue:
    field = f"personalisation.{shown_name(key)}"
    if value is None:
        return None
    try:
        if isinstance(value, list):
            items: list[str] = []
            for item in value:
                text = None if item is None else scalar_text(item)
                if item is not None and text is None:
                    raise PersonalisationRejected(
                        f"{field} must be a list of text or numbers; lists inside lists and objects are not allowed"
                    )
                if text is not None:
                    items.append(text)
            return items
        text = scalar_text(value)
    except ValueError as exc:
        if isinstance(exc, PersonalisationRejected):
            raise
        raise PersonalisationRejected(f"{field} must be a finite number") from None
    if text is None:
        raise PersonalisationRejected(f"{field} must be text, a number, true, false or a list; objects are not allowed")
    return text


def encoded_size(personalisation: Mapping[str, CleanValue]) -> int:
    """Bytes the object takes in a batch file: compact UTF-8 JSON, as notify.recipients.batch_file writes it."""
    return len(json.dumps(personalisation, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def clean_personalisation(raw: Mapping[str, object], limits: PersonalisationLimits) -> dict[str, CleanValue]:
    """Check ``raw`` against the rules and limits; the same keys with their values as text.

    Raises :class:`PersonalisationRejected`.
    """
    if len(raw) > limits.max_keys:
        raise PersonalisationRejected(
            f"personalisation has {len(raw)} keys; the limit is {limits.max_keys}"
        )
    cleaned: dict[str, CleanValue] = {}
    for key, value in raw.items():
        clean = _clean_value(key, value)
        length = len(clean) if isinstance(clean, str) else sum(map(len, clean or ()))
        if length > limits.max_value_chars:
            raise PersonalisationRejected(
                f"personalisation.{shown_name(key)} is {length} characters long; "
                f"the limit for one value is {limits.max_value_chars}"
            )
        cleaned[key] = clean
    size = encoded_size(cleaned)
    if size > limits.max_bytes:
        raise PersonalisationRejected(
            f"personalisation is {size} bytes as UTF-8 JSON; the limit is {limits.max_bytes} bytes"
        )
    return cleaned
