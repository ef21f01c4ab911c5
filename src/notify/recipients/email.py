"""Email address normalisation, delegated to email-validator.

The service sends to whatever address the team gave, so deliverability (DNS) is not checked
here: that would make validation slow and network-dependent. Errors carry a ``reason`` that
never contains the address, because an address is PII and exceptions end up in logs.

A 100k-row upload must validate at >= 100k rows/s and email-validator manages about 29k/s, so
plain ASCII addresses take a fast path (:func:`_normalise_plain_ascii`) that accepts only shapes
email-validator certainly accepts with the same output; everything else, and every refusal, goes
through email-validator itself.
"""

from __future__ import annotations

import re

import email_validator
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DNS_LABEL_LENGTH_LIMIT,
    DOMAIN_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
)

__all__ = ["InvalidEmailAddress", "normalise_email"]


class InvalidEmailAddress(ValueError):
    """A recipient email address we will not send to.

    Only ``reason`` is stored, never the address, so the exception is safe to log or to show.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise_email(raw: str) -> str:
    """Return the normalised form of ``raw``, or raise :class:`InvalidEmailAddress`.

    Surrounding whitespace (spreadsheet cells often carry it) is dropped. The domain is
    lower-cased and IDNA-decoded by email-validator; the local part keeps its case, because
    mail servers may treat it as case-sensitive.
    """
    text = raw.strip()
    fast = _normalise_plain_ascii(text)
    if fast is not None:
        return fast
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        # email-validator's messages may quote characters or the domain of the address, so
        # neither the message nor the cause may travel on with this exception.
        raise InvalidEmailAddress("Not a valid email address") from None
    return result.normalized


# The fast path accepts ``dot-atom@label.label...tld`` in ASCII and nothing else. Why the output
# equals email-validator 2.x's ``normalized`` (syntax.py, validate_email.py) for such input:
# * no quote, "<", "(" or space, so split_email finds no display name and no quoted local part;
# * the local part matches rfc_constants.DOT_ATOM_TEXT, so it is returned unchanged (NFC leaves
#   ASCII alone) unless it is an RFC 2142 mailbox name, which email-validator lower-cases: those
#   go the slow way;
# * every domain label is letters, digits and inner hyphens, without "--" anywhere (that rules
#   out "xn--" Punycode, which is decoded to Unicode, and the "ab--" rule); UTS-46 mapping of such
#   a label is plain lower-casing; it has a dot, ends with a letter (a TLD), and is not a
#   special-use domain;
# * lengths: labels <= 63, domain <= 253, whole address <= 254, all counted in ASCII bytes.
# tests/recipients/test_email_fast_path.py checks this against email-validator with hypothesis.
_ATEXT = r"[A-Za-z0-9_!#$%&'*+/=?^`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(
    rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@((?:{_LABEL}\.)+(?:[A-Za-z]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z]))"
)
_CASE_INSENSITIVE_MAILBOXES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def _normalise_plain_ascii(text: str) -> str | None:
    """The normalised address when ``text`` is a plain ASCII address email-validator accepts.

    None means "not sure", never "invalid": the caller asks email-validator.
    """
    if len(text) > EMAIL_MAX_LENGTH or not text.isascii():
        return None
    match = _PLAIN_ADDRESS.fullmatch(text)
    if match is None:
        return None
    local, domain = match.groups()
    if "--" in domain or len(domain) > DOMAIN_MAX_LENGTH:
        return None
    if local.lower() in _CASE_INSENSITIVE_MAILBOXES:
        return None
    domain = domain.lower()
    labels = domain.split(".")
    if max(map(len, labels)) > DNS_LABEL_LENGTH_LIMIT:
        return None
    # Read at call time: the list is email-validator's, and it may grow.
    for special in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == special or domain.endswith("." + special):
            return None
    return f"{local}@{domain}"
