"""Every form in which a recipient or personalisation value could leak.

The PII audit searches tables, logs and files for each form a test used. A leak rarely looks
like the raw input: code normalises a phone number to E.164, a report formats it nationally,
a log lower-cases an address. So the audit searches for all of them. Forms that are too short
are dropped because they would match innocent text (ids, counters, timestamps).

Beyond the text forms, ``encoded_forms`` covers what code does to a value on its way out: escaping
it for JSON or a URL, and hashing or base64-encoding it. A hash of a phone number counts as the
number (the design says so: ten digits are brute-forced in seconds).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from notify.recipients.email import InvalidEmailAddress, normalise_email
from notify.recipients.phone import InvalidPhoneNumber, normalise_phone

__all__ = ["canonical_forms", "encoded_forms", "personalisation_forms", "recipient_forms"]

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


def canonical_forms(value: str, *, recipient: bool) -> set[str]:
    """The few forms code would hash or encode: as given, stripped, and as the service normalises it."""
    stripped = value.strip()
    forms = {value, stripped}
    if not recipient:
        forms.add(stripped.lower())
    elif "@" in value:
        forms.add(stripped.lower())
        try:
            forms.add(normalise_email(value))
        except InvalidEmailAddress:
            pass
    else:
        number = _parse_phone(value)
        if number is not None:
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            forms |= {e164, e164.removeprefix("+"), phonenumbers.national_significant_number(number)}
    return {form for form in forms if form}


# Hashes a developer reaches for first; each is searched as hex (both cases) and as base64 of its digest.
_HASHES = ("md5", "sha1", "sha256", "sha512")
# HMAC keys that protect nothing (empty, or shipped in code); a key kept outside the database is allowed.
WEAK_HMAC_KEYS: tuple[bytes, ...] = (b"",)


def encoded_forms(text_forms: Iterable[str], canonical: Iterable[str], *, hmac_keys: Iterable[bytes] = ()) -> set[str]:
    """Escaped forms of every text form, and hashed and base64 forms of every canonical one."""
    found: set[str] = set()
    for form in text_forms:
        found |= {json.dumps(form)[1:-1], json.dumps(form, ensure_ascii=False)[1:-1], quote(form), quote_plus(form)}
    keys = [*WEAK_HMAC_KEYS, *hmac_keys]
    for form in canonical:
        data = form.encode()
        found |= _base64_forms(data)
        digests = [hashlib.new(name, data).digest() for name in _HASHES]
        digests += [hmac.new(key, data, name).digest() for key in keys for name in ("sha256", "sha1")]
        for digest in digests:
            found |= {digest.hex(), digest.hex().upper()}
            found |= {base64.b64encode(digest).decode(), base64.urlsafe_b64encode(digest).decode().rstrip("=")}
    return {form for form in found if len(form) >= MIN_PERSONALISATION_FORM}


def _base64_forms(data: bytes) -> set[str]:
    """Base64 of ``data`` wherever it sits in a longer encoded string.

    Base64 encodes 3-byte groups, so the same value encodes differently after 0, 1 or 2 bytes of
    other data; keep, for each alignment, only the characters that depend on ``data`` alone.
    """
    forms: set[str] = set()
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * pad + data).decode()
            start = (pad * 8 + 5) // 6  # characters touched by the padding bytes
            end = (pad + len(data)) // 3 * 4  # characters of complete groups only
            if pad == 0:
                forms.add(encoded.rstrip("="))
            forms.add(encoded[start:end])
    return forms


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
