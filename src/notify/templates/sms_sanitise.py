"""Downgrade typographic characters so a pasted template stays GSM-7.

A template written in Word or copied from a web page picks up curly quotes,
en dashes, ellipses and invisible spaces.  None of them is in the GSM
alphabet, so one of them would silently switch the whole message to UCS-2 and
more than double its cost.  GOV.UK Notify replaces them with their plain
equivalents, and so do we.

We depart from GOV.UK Notify in one way: we only replace punctuation and
whitespace.  Letters are never changed, and characters with no GSM
equivalent (Welsh ŵ and ŷ, other accented letters, other scripts, emoji) are
kept as they are, so the message is sent as UCS-2.  GOV.UK strips accents and
turns the rest into ``?``; we would rather spell a person's name right than
save a fragment.

The function is idempotent, and text that is already GSM-7 comes back
unchanged.
"""

from __future__ import annotations

from notify.templates.gsm_alphabet import is_gsm

_ZERO_WIDTH_JOINER = "\u200d"

_REPLACEMENTS: dict[str, str] = {
    # Single quotes, apostrophes and primes.
    "\u2018": "'",  # LEFT SINGLE QUOTATION MARK
    "\u2019": "'",  # RIGHT SINGLE QUOTATION MARK (Word's apostrophe)
    "\u201a": "'",  # SINGLE LOW-9 QUOTATION MARK
    "\u201b": "'",  # SINGLE HIGH-REVERSED-9 QUOTATION MARK
    "\u2032": "'",  # PRIME
    # Double quotes.
    "\u201c": '"',  # LEFT DOUBLE QUOTATION MARK
    "\u201d": '"',  # RIGHT DOUBLE QUOTATION MARK
    "\u201e": '"',  # DOUBLE LOW-9 QUOTATION MARK
    "\u201f": '"',  # DOUBLE HIGH-REVERSED-9 QUOTATION MARK
    "\u2033": '"',  # DOUBLE PRIME
    # Hyphens and dashes.
    "\u2010": "-",  # HYPHEN
    "\u2011": "-",  # NON-BREAKING HYPHEN
    "\u2012": "-",  # FIGURE DASH
    "\u2013": "-",  # EN DASH
    "\u2014": "-",  # EM DASH
    "\u2015": "-",  # HORIZONTAL BAR
    "\u2212": "-",  # MINUS SIGN
    # Ellipsis.
    "\u2026": "...",  # HORIZONTAL ELLIPSIS
    # Spaces that look like a space.
    "\t": " ",
    "\u00a0": " ",  # NO-BREAK SPACE
    "\u2000": " ",  # EN QUAD
    "\u2001": " ",  # EM QUAD
    "\u2002": " ",  # EN SPACE
    "\u2003": " ",  # EM SPACE
    "\u2004": " ",  # THREE-PER-EM SPACE
    "\u2005": " ",  # FOUR-PER-EM SPACE
    "\u2006": " ",  # SIX-PER-EM SPACE
    "\u2007": " ",  # FIGURE SPACE
    "\u2008": " ",  # PUNCTUATION SPACE
    "\u2009": " ",  # THIN SPACE
    "\u200a": " ",  # HAIR SPACE
    "\u202f": " ",  # NARROW NO-BREAK SPACE
    "\u205f": " ",  # MEDIUM MATHEMATICAL SPACE
    # Line breaks that are not "\n".  GOV.UK deletes these; a line break is
    # what the author saw, so we keep one.
    "\u2028": "\n",  # LINE SEPARATOR
    "\u2029": "\n",  # PARAGRAPH SEPARATOR
    # Invisible characters, often pasted in to stop "gov.uk" becoming a link.
    "\u00ad": "",  # SOFT HYPHEN
    "\u180e": "",  # MONGOLIAN VOWEL SEPARATOR
    "\u200b": "",  # ZERO WIDTH SPACE
    "\u200c": "",  # ZERO WIDTH NON-JOINER
    "\u2060": "",  # WORD JOINER
    "\ufeff": "",  # ZERO WIDTH NO-BREAK SPACE / byte order mark
    "\x1b": "",  # ESC: never typed on purpose, and not sendable on its own
}

_TABLE = str.maketrans(_REPLACEMENTS)


def sanitise_sms(text: str) -> str:
    """Replace non-GSM punctuation and whitespace with GSM equivalents.

    The zero width joiner gets special treatment: it glues emoji sequences
    such as family or flag emoji together, so we keep it when the message is
    going to be UCS-2 anyway, and drop it only when that makes the message
    GSM-7.
    """
    sanitised = text.translate(_TABLE)
    if _ZERO_WIDTH_JOINER in sanitised:
        without_joiners = sanitised.replace(_ZERO_WIDTH_JOINER, "")
        if is_gsm(without_joiners):
            return without_joiners
    return sanitised
