"""How long a text message is, and how many fragments it is billed as.

Providers charge per fragment, and GOV.UK Notify shows teams the fragment count
before they send, so this count has to match what teams already expect:

* GSM-7: up to 160 septets is one fragment; longer messages are split into
  fragments of 153 (7 septets go on the concatenation header).
* UCS-2: up to 70 UTF-16 code units is one fragment; otherwise 67 each.

Extension-table characters (``^{}\\[~]|€`` and form feed) are two septets.
Characters outside the BMP (most emoji) are two UTF-16 code units.

Like GOV.UK Notify we divide and round up.  A handset may in rare cases need
one more fragment, because a two-septet character or a surrogate pair must not
be cut in half at a fragment boundary; we accept that small undercount to show
the same numbers GOV.UK does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from notify.templates.gsm_alphabet import GSM_EXTENSION, is_gsm

SmsEncoding = Literal["GSM-7", "UCS-2"]

SMS_CHAR_COUNT_LIMIT = 918
"""GOV.UK Notify's longest allowed message: six GSM-7 fragments of 153.

GOV.UK applies the same number to UCS-2 messages (14 fragments), and so do we.
"""

_SINGLE = {"GSM-7": 160, "UCS-2": 70}
_MULTIPART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SmsLength:
    """The size of one text message.

    ``characters`` is in the unit the encoding is billed in: septets for GSM-7,
    UTF-16 code units for UCS-2.  It is what :data:`SMS_CHAR_COUNT_LIMIT` is
    compared with.
    """

    characters: int
    fragments: int
    encoding: SmsEncoding


def _septets(text: str) -> int:
    # str.count runs in C; ten calls beat a Python loop over every character,
    # which matters when rendering a 100k-row upload.
    return len(text) + sum(text.count(ch) for ch in GSM_EXTENSION)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fragment_count(characters: int, encoding: SmsEncoding) -> int:
    """Fragments needed for ``characters`` units in ``encoding``.

    Zero characters is zero fragments: an empty message is not sent at all
    (and an empty template body is rejected elsewhere), so it costs nothing.
    """
    if characters <= 0:
        return 0
    if characters <= _SINGLE[encoding]:
        return 1
    per_fragment = _MULTIPART[encoding]
    return -(-characters // per_fragment)


def sms_length(text: str) -> SmsLength:
    """Measure ``text`` as it would be sent (after any sanitising)."""
    if is_gsm(text):
        encoding: SmsEncoding = "GSM-7"
        characters = _septets(text)
    else:
        encoding = "UCS-2"
        characters = _utf16_units(text)
    return SmsLength(
        characters=characters,
        fragments=fragment_count(characters, encoding),
        encoding=encoding,
    )


class SmsTooLong(Exception):
    """A message is longer than the allowed limit.

    Carries the numbers (never the text, which holds personalisation) so the
    API layer can build its own error body.
    """

    def __init__(self, length: int, limit: int = SMS_CHAR_COUNT_LIMIT) -> None:
        self.length = length
        self.limit = limit
        super().__init__(
            f"Text messages cannot be longer than {limit} characters. "
            f"Your message is {length} characters long."
        )


def check_sms_length(text: str, limit: int = SMS_CHAR_COUNT_LIMIT) -> SmsLength:
    """Measure ``text`` and raise :class:`SmsTooLong` if it is over ``limit``.

    Returns the measurement so callers need not count twice.
    """
    length = sms_length(text)
    if length.characters > limit:
        raise SmsTooLong(length=length.characters, limit=limit)
    return length
