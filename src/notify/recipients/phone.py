"""Phone number normalisation: every accepted number leaves here as E.164.

Parsing, formatting and validity are phonenumbers' job; this module only adds the service's
policy on top (domestic vs international, UK mobiles only, test ranges). Errors carry a
``reason`` that describes the problem and never the number: a phone number is PII and
exception messages end up in logs.

Validity rule
-------------
A number is accepted when phonenumbers says it is both *possible* and *valid*, **or** when it is
in the Ofcom range reserved for drama and testing, ``+44 7700 900000``–``+44 7700 900999``
(``07700 900xxx``). phonenumbers 9.x marks that range invalid (type UNKNOWN), yet GOV.UK Notify's
test numbers (``07700 900000``, ``07700 900111``, ``07700 900222``...) live there and are used
as recipients everywhere, so we treat it as a valid UK mobile range. The exception is narrow on
purpose: "any possible number of the right length" would also let through unassigned ranges
that no provider can deliver to.

US fiction numbers (``555-0100``–``555-0199``) and the Notify.gov simulated numbers
(``+1 425 414 7755``, ``+1 425 414 7167``) are already valid in phonenumbers, so they need no
exception.

"International" means the number's country calling code differs from ``default_region``'s. All of
+1 (US, Canada, the Caribbean) is therefore domestic for a US service: the NANP shares one code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberType,
    ValidationResult,
)
from phonenumbers.phonemetadata import PhoneNumberDesc
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

__all__ = ["InvalidPhoneNumber", "is_international", "normalise_phone", "phone_normaliser"]

# Ofcom reserves 07700 900000-900999 for drama; GOV.UK Notify uses it for test recipients.
_UK_COUNTRY_CODE = 44
_UK_TEST_RANGE = range(7700900000, 7700901000)

_REGION_LABELS = {"GB": "UK"}

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "Not a valid country prefix",
    NumberParseException.NOT_A_NUMBER: "Not a valid phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "Not enough digits",
    NumberParseException.TOO_SHORT_NSN: "Not enough digits",
    NumberParseException.TOO_LONG: "Too many digits",
}

_POSSIBILITY_REASONS = {
    ValidationResult.TOO_SHORT: "Not enough digits",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "Not enough digits",
    ValidationResult.TOO_LONG: "Too many digits",
    ValidationResult.INVALID_COUNTRY_CODE: "Not a valid country prefix",
    ValidationResult.INVALID_LENGTH: "Wrong number of digits",
}

_UK_MOBILE_TYPES = {PhoneNumberType.MOBILE}


class InvalidPhoneNumber(ValueError):
    """A recipient phone number we will not send to.

    Only ``reason`` is stored, never the number, so the exception is safe to log or to show.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise_phone(
    raw: str, *, default_region: str = "US", allow_international: bool = False
) -> str:
    """Return ``raw`` as E.164, or raise :class:`InvalidPhoneNumber`.

    ``default_region`` says how to read numbers written without a country code and which
    country counts as domestic. Numbers from elsewhere are refused unless the service has
    international messaging enabled (``allow_international``).
    """
    domestic_code = _country_code(default_region)
    fast = _normalise_nanp_fast(raw, default_region.upper())
    if fast is not None:
        return fast
    return _normalise_slow(raw, default_region, domestic_code, allow_international)


def phone_normaliser(
    default_region: str = "US", *, allow_international: bool = False
) -> Callable[[str], str]:
    """:func:`normalise_phone` with the service's settings bound, for checking many rows.

    The region is checked once (a bad one raises ValueError here, not on row 1) and the per-call
    setup is skipped, which matters at 100k rows/s. Same results and reasons as normalise_phone.
    """
    domestic_code = _country_code(default_region)
    region = default_region.upper()
    fast_region = region if _nanp_validator(region) is not None else None

    def normalise(raw: str) -> str:
        if fast_region is not None:
            fast = _normalise_nanp_fast(raw, fast_region)
            if fast is not None:
                return fast
        return _normalise_slow(raw, default_region, domestic_code, allow_international)

    return normalise


def _normalise_slow(
    raw: str, default_region: str, domestic_code: int, allow_international: bool
) -> str:
    """The reference path: phonenumbers parses, checks and formats; every reason comes from here."""
    label = _REGION_LABELS.get(default_region.upper(), default_region.upper())

    # phonenumbers happily reads vanity numbers (1-800-FLOWERS) and extensions ("ext 12");
    # neither can receive a text message, so letters are refused before it sees them.
    if any(char.isalpha() for char in raw):
        raise InvalidPhoneNumber("Must not contain letters or symbols")
    try:
        number = phonenumbers.parse(raw, default_region.upper())
    except NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "Not a valid phone number")
        # The library's messages are fixed strings, so the cause is safe to keep.
        raise InvalidPhoneNumber(reason) from exc
    if number.extension:
        raise InvalidPhoneNumber("Must not contain letters or symbols")

    possibility = _possibility(number)
    if possibility != ValidationResult.IS_POSSIBLE:
        raise InvalidPhoneNumber(_POSSIBILITY_REASONS.get(possibility, "Wrong number of digits"))

    international = number.country_code != domestic_code
    if international and not allow_international:
        raise InvalidPhoneNumber(
            f"Not a {label} phone number. International messaging is not enabled for this service"
        )
    if not (_is_uk_test_number(number) or phonenumbers.is_valid_number(number)):
        raise InvalidPhoneNumber(
            "Not a valid phone number" if international else f"Not a valid {label} phone number"
        )
    if number.country_code == _UK_COUNTRY_CODE and not _is_uk_mobile(number):
        raise InvalidPhoneNumber("Not a UK mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_international(e164: str, default_region: str = "US") -> bool:
    """Whether an E.164 number (from :func:`normalise_phone`) is outside ``default_region``.

    Billing and the 'sent' status (no delivery receipts abroad) need this on every row, so it
    compares prefixes instead of reparsing: ITU country codes are prefix-free, so "+<code>"
    at the start identifies the country code exactly.
    """
    if not e164.startswith("+"):
        raise InvalidPhoneNumber("Not an E.164 phone number")
    return not e164.startswith(f"+{_country_code(default_region)}")


@cache
def _country_code(region: str) -> int:
    """Cached because every row of an upload asks; it maps a region to its code, nothing else."""
    code = phonenumbers.country_code_for_region(region.upper())
    if not code:
        # A configuration mistake, not a bad recipient: a plain ValueError.
        raise ValueError(f"Unknown region code {region!r}")
    return code


def _possibility(number: PhoneNumber) -> ValidationResult:
    """Check the length, judging UK numbers as mobiles since only mobiles are accepted there.

    Some UK landline areas use 9-digit national numbers, so the generic check would call
    ``07700 90012`` possible and the caller would hear "not valid" instead of "not enough digits".
    """
    if number.country_code == _UK_COUNTRY_CODE:
        return phonenumbers.is_possible_number_for_type_with_reason(
            number, PhoneNumberType.MOBILE
        )
    return phonenumbers.is_possible_number_with_reason(number)


def _is_uk_test_number(number: PhoneNumber) -> bool:
    return number.country_code == _UK_COUNTRY_CODE and number.national_number in _UK_TEST_RANGE


def _is_uk_mobile(number: PhoneNumber) -> bool:
    """UK landlines, pagers and 070 personal numbers cannot receive SMS through our providers."""
    return _is_uk_test_number(number) or phonenumbers.number_type(number) in _UK_MOBILE_TYPES


# --- Fast path ---------------------------------------------------------------------------------
#
# A 100k-row upload must validate at >= 100k rows/s, and phonenumbers.parse alone manages about
# 48k/s. Almost every cell in a US file is a plain NANP number in one of a handful of layouts, so
# those are recognised here and checked against phonenumbers' *own* metadata patterns, replaying
# exactly the steps parse() + is_possible_number_with_reason() + is_valid_number() take for them.
# The fast path only ever *accepts*: anything it is not sure about (letters, other punctuation,
# other lengths, other country codes, a number the patterns call invalid) returns None and goes
# through _normalise_slow, which also owns every refusal reason. tests/recipients/
# test_phone_fast_path.py checks with hypothesis that an accepted number is accepted by the slow
# path with the same E.164.
#
# Why each accepted shape parses the way we assume (phonenumbers 9.x, phonenumberutil.py):
# * Stripped input holds only ASCII digits, an optional leading "+", and characters from
#   phonenumbers' _VALID_PUNCTUATION (space, NBSP, "-", ".", "(", ")", U+2010..U+2015, U+2212),
#   so _extract_possible_number/_is_viable_phone_number keep every digit and find no extension.
# * "+1" + NSN: the "+" is stripped, country code 1 is extracted, and the national prefix "1"
#   cannot match an NSN starting 2-9, so the NSN is the remaining ten digits.
# * ten digits starting 2-9, no "+": no IDD ("011"), no leading country code "1", no national
#   prefix, so the NSN is the digits themselves.
# * "1" + ten digits starting 2-9, no "+": _maybe_extract_country_code strips the default country
#   code because the eleven digits are TOO_LONG for the region (the gate below checks this).
# The gate admits only default regions whose metadata makes those statements true.

_FAST_PUNCTUATION = " \u00a0-.()\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_FAST_DELETE = str.maketrans("", "", _FAST_PUNCTUATION)
_COMMON_PUNCTUATION = " -.()"
_NANP_CODE = 1
_NANP_NSN_LENGTH = 10
_FAST_MAX_INPUT = 64

# The number-type descriptions _number_type_helper consults before fixed line and mobile.
_TYPE_DESCS_BEFORE_FIXED = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail",
)


def _desc_matcher(desc: PhoneNumberDesc | None, length: int) -> str | None:
    """The pattern _is_number_matching_desc would fullmatch for an NSN of ``length``, or None."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and length not in desc.possible_length:
        return None
    return desc.national_number_pattern


def _region_validator(metadata: PhoneMetadata, length: int) -> Callable[[str], bool]:
    """``_number_type_helper(nsn, metadata) != UNKNOWN`` for NSNs of one length, precompiled.

    The helper answers UNKNOWN when the general description fails, or when no type matches
    (mobile only counts when its pattern differs from fixed line's). All type patterns are
    folded into one alternation; fullmatch of ``(?:a)|(?:b)`` is "a or b fully matches".
    """
    general = _desc_matcher(metadata.general_desc, length)
    names = list(_TYPE_DESCS_BEFORE_FIXED) + ["fixed_line"]
    if not metadata.same_mobile_and_fixed_line_pattern:
        names.append("mobile")
    types = [p for p in (_desc_matcher(getattr(metadata, n), length) for n in names) if p]
    if general is None or not types:
        return lambda nsn: False
    general_re = re.compile(general)
    types_re = re.compile("|".join(f"(?:{p})" for p in types))
    return lambda nsn: (
        general_re.fullmatch(nsn) is not None and types_re.fullmatch(nsn) is not None
    )


@cache
def _nanp_validator(region: str) -> Callable[[str], bool] | None:
    """is_possible + is_valid for 10-digit +1 NSNs, or None when ``region`` fails the gate.

    Cached per region: it holds compiled metadata patterns, never a number.
    """
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if (
        metadata is None
        or metadata.country_code != _NANP_CODE
        or metadata.international_prefix != "011"
        or metadata.national_prefix_for_parsing not in (None, "1")
        or metadata.national_prefix_transform_rule
        or max(metadata.general_desc.possible_length) >= _NANP_NSN_LENGTH + 1
        or _NANP_NSN_LENGTH + 1 in metadata.general_desc.possible_length_local_only
    ):
        return None
    # is_possible_number_with_reason judges by the main region for the code (US for +1).
    main = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(_NANP_CODE))
    if (
        _NANP_NSN_LENGTH not in main.general_desc.possible_length
        or _NANP_NSN_LENGTH in main.general_desc.possible_length_local_only
    ):
        return None
    # is_valid_number: _region_code_for_number_from_list picks the first region whose
    # leading_digits prefix-match (or, without leading_digits, whose types match), then checks
    # the number against that region alone.
    chain: list[tuple[re.Pattern[str] | None, Callable[[str], bool]]] = []
    for code in COUNTRY_CODE_TO_REGION_CODE[_NANP_CODE]:
        region_metadata = PhoneMetadata.metadata_for_region(code, None)
        if region_metadata is None:
            continue
        leading = region_metadata.leading_digits
        chain.append(
            (re.compile(leading) if leading is not None else None,
             _region_validator(region_metadata, _NANP_NSN_LENGTH))
        )

    def is_valid(nsn: str) -> bool:
        for leading_re, valid in chain:
            if leading_re is None:
                if valid(nsn):
                    return True
            elif leading_re.match(nsn):
                return valid(nsn)
        return False

    return is_valid


def _normalise_nanp_fast(raw: str, region: str) -> str | None:
    """E.164 for a plainly written, valid +1 number when ``region`` is a NANP region, else None.

    None means "not sure", never "invalid": the caller falls back to the full path.
    """
    text = raw.strip()
    if len(text) > _FAST_MAX_INPUT:
        return None
    plus = text[:1] == "+"
    digits = text[1:] if plus else text
    # str.replace is a C scan; translate() with a dict costs ~50 ns a character, so it only
    # runs for the rarer Unicode dashes and spaces.
    for char in _COMMON_PUNCTUATION:
        digits = digits.replace(char, "")
    if not (digits.isascii() and digits.isdigit()):
        digits = digits.translate(_FAST_DELETE)
        if not (digits.isascii() and digits.isdigit()):
            return None
    if plus or len(digits) == _NANP_NSN_LENGTH + 1:
        if len(digits) != _NANP_NSN_LENGTH + 1 or digits[0] != "1":
            return None
        nsn = digits[1:]
    elif len(digits) == _NANP_NSN_LENGTH:
        nsn = digits
    else:
        return None
    if nsn[0] in "01":
        return None
    validator = _nanp_validator(region)
    if validator is None or not validator(nsn):
        return None
    return "+1" + nsn
