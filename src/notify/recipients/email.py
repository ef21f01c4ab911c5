"""Email address normalisation, delegated to email-validator.

The service sends to whatever address the team gave, so deliverability (DNS) is not checked
here: that would make validation slow and network-dependent. Errors carry a ``reason`` that
never contains the address, because an address is PII and exceptions end up in logs.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

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
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        # email-validator's messages may quote characters or the domain of the address, so
        # neither the message nor the cause may travel on with this exception.
        raise InvalidEmailAddress("Not a valid email address") from None
    return result.normalized
