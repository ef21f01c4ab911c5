"""What of a provider's free text a receipt may keep: one rule for every receipt source.

Carrier names and short provider responses come from AWS events that also carry the recipient,
and nothing stops a provider (or a forged or buggy event) from quoting the phone number in them.
So every source (CloudWatch delivery-status logs, End User Messaging SMS events over SNS) keeps
such a text only through :func:`keep_provider_text`: whitespace collapsed, at most
``MAX_PROVIDER_TEXT`` characters, and dropped whole (never trimmed) when it holds a run of
seven or more digits, which could be a phone number.
"""

from __future__ import annotations

import re

__all__ = ["MAX_PROVIDER_TEXT", "keep_provider_text"]

# Longer than any AWS response or carrier name; a longer value is not what we expect to keep.
MAX_PROVIDER_TEXT = 255

# Seven or more digits, allowing the separators people write numbers with: looks like a phone number.
_NUMBER_LIKE = re.compile(r"\d(?:[\s().+-]*\d){6,}")


def keep_provider_text(value: object) -> str | None:
    """The text to store, or None: not a string, empty, too long, or possibly holding a phone number."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text or len(text) > MAX_PROVIDER_TEXT or _NUMBER_LIKE.search(text):
        return None
    return text
