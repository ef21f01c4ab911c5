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

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType, ValidationResult

__all__ = ["InvalidPhoneNumber", "is_international", "normalise_phone"]

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


def _country_code(region: str) -> int:
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
