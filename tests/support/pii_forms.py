"""Every form in which a recipient or personalisation value could leak.

The PII audit searches tables, logs and files for each form a test used. A leak rarely looks
like the raw input: code normalises a phone number to E.164, a report formats it nationally,
a log lower-cases an address. So the audit searches for all of them. Forms that are too short
are dropped because they would match innocent text (ids, counters, timestamps).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from notify.recipients.email import InvalidEmailAddress, normalise_email
from notify.recipients.phone import InvalidPhoneNumber, normalise_phone

__all__ = ["personalisation_forms", "recipient_forms"]

MIN_RECIPIENT_FORM = 7
MIN_LOCAL_PART = 6
MIN_PERSONALISATION_FORM = 6

# Regions a test recipient written without a country code may belong to, in order of preference.
_REGIONS = ("US", "GB")
_SEPARATORS = (" ", "-", ".", "")


def recipient_forms(value: str) -> set[str]:
    """Return the forms of a phone number or email address an audit should search for."""
    forms = _email_forms(value) if "@" in value else _phone_forms(value)
    return {form for form in forms if len(form) >= MIN_RECIPIENT_FORM} | _local_part(value)


def personalisation_forms(value: str) -> set[str]:
    """Return the forms of a personalisation value an audit should search for."""
    stripped = value.strip()
    forms = {value, stripped, stripped.lower()}
    return {form for form in forms if len(form) >= MIN_PERSONALISATION_FORM}


def _email_forms(value: str) -> set[str]:
    stripped = value.strip()
    forms = {value, stripped, stripped.lower(), stripped.upper()}
    try:
        forms.add(normalise_email(value))
    except InvalidEmailAddress:
        pass  # a deliberately invalid address still leaks in its raw forms
    return forms


def _local_part(value: str) -> set[str]:
    """A distinctive local part ("jane.doe.1987") identifies a person without its domain.

    The domain alone is not searched for: it is shared by many people and would also match
    the service's own sender and reply-to addresses.
    """
    if "@" not in value:
        return set()
    local = value.strip().rsplit("@", 1)[0]
    if len(local) < MIN_LOCAL_PART:
        return set()
    return {local, local.lower()}


def _phone_forms(value: str) -> set[str]:
    forms = {value, value.strip(), re.sub(r"\D", "", value)}
    number = _parse_phone(value)
    if number is None:
        return forms
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    country_code = str(number.country_code)
    national_groups = re.findall(r"\d+", national)
    international_groups = re.findall(r"\d+", international)[1:]  # without the country code
    forms |= {
        e164,
        e164.removeprefix("+"),
        "00" + e164.removeprefix("+"),
        phonenumbers.national_significant_number(number),
        national,
        international,
        phonenumbers.format_number(number, PhoneNumberFormat.RFC3966),
    }
    for separator in _SEPARATORS:
        for groups in (national_groups, international_groups):
            forms.add(separator.join(groups))
        forms.add(separator.join([country_code, *international_groups]))
        forms.add("+" + separator.join([country_code, *international_groups]))
    return forms


def _parse_phone(value: str) -> PhoneNumber | None:
    """Read ``value`` the way the service would, else the way it most plausibly was meant."""
    for region in _REGIONS:
        try:
            e164 = normalise_phone(value, default_region=region, allow_international=True)
        except InvalidPhoneNumber:
            continue
        return phonenumbers.parse(e164, None)
    for region in _REGIONS:
        try:
            number = phonenumbers.parse(value, region)
        except NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return number
    return None
