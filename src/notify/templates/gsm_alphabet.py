"""The GSM 03.38 (3GPP TS 23.038) default alphabet, as sets of characters.

A text message is sent either in this 7-bit alphabet or, if any character is
outside it, in UCS-2, which costs more than twice as much per character.  The
length counter and the sanitiser both need to know exactly which characters
are in it, so the tables live here once.
"""

from __future__ import annotations

# The basic table, one septet each.  0x1B (ESC) is deliberately left out: it is
# the escape into the extension table, not a character anyone can type, so a
# literal ESC in a template is treated as outside the alphabet.
GSM_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# The extension table: each is sent as ESC plus a septet, so it costs two.
GSM_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

GSM_CHARACTERS: frozenset[str] = GSM_BASIC | GSM_EXTENSION


def is_gsm(text: str) -> bool:
    """True when every character of ``text`` can be sent as GSM-7."""
    return GSM_CHARACTERS.issuperset(text)
