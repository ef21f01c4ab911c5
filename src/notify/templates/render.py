"""Turn a template plus one recipient's personalisation into a message.

These functions run once per notification, in the worker, with PII in memory
only.  The results must not be logged or stored; the errors they raise carry
placeholder names and lengths, never values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from notify.templates.placeholders import (
    MissingPersonalisation,
    placeholders,
    substitute,
    unique_names,
)
from notify.templates.sms_length import SMS_CHAR_COUNT_LIMIT, SmsLength, check_sms_length
from notify.templates.sms_sanitise import sanitise_sms


class EmptyMessage(Exception):
    """The message body is empty or only whitespace once filled in.

    This happens when every placeholder in a template is conditional or blank
    and the row switched them all off.  GOV.UK Notify rejects such a send with
    "Your message is empty", and so do we, rather than bill for nothing.
    """

    def __init__(self) -> None:
        super().__init__("Your message is empty.")


@dataclass(frozen=True)
class RenderedSms:
    """A text message ready for a provider: the exact body and what it costs."""

    body: str
    length: SmsLength


@dataclass(frozen=True)
class RenderedEmail:
    """An email ready for a provider.

    ``body`` is the author's plain text / markdown with placeholders filled in;
    turning it into HTML is the email provider's job, not ours.
    """

    subject: str
    body: str


def template_placeholders(content: str, subject: str | None = None) -> list[str]:
    """All placeholders a template needs, subject first, each once.

    This is the list a CSV upload or an API request is checked against.
    """
    names = placeholders(subject) if subject else []
    return unique_names([*names, *placeholders(content)])


def _normalise_sms_whitespace(text: str) -> str:
    # A CRLF costs two septets and shows as one line break, and spreadsheets
    # produce them; leading and trailing whitespace is never meant to be sent.
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def render_sms(
    content: str,
    personalisation: Mapping[str, object],
    *,
    limit: int = SMS_CHAR_COUNT_LIMIT,
) -> RenderedSms:
    """Fill in, sanitise and measure a text message.

    Sanitising happens after substitution, so curly quotes in a recipient's
    data are downgraded just like those in the template.  List values are
    written inline (``a, b and c``): a bulleted list would cost a line break
    per item.

    Raises :class:`MissingPersonalisation`, :class:`EmptyMessage` or
    :class:`SmsTooLong`.
    """
    filled = substitute(content, personalisation, list_style="inline")
    body = _normalise_sms_whitespace(sanitise_sms(filled))
    if not body:
        raise EmptyMessage()
    return RenderedSms(body=body, length=check_sms_length(body, limit=limit))


def render_email(
    subject: str,
    content: str,
    personalisation: Mapping[str, object],
) -> RenderedEmail:
    """Fill in an email's subject and body.

    The subject is one line: after substitution every run of whitespace,
    line breaks included, becomes a single space, because a newline in a
    subject header is at best mangled and at worst header injection.  Lists
    in the subject are written inline; lists in the body become markdown
    bullets, as GOV.UK Notify does.

    Missing placeholders from subject and body are reported together.

    Raises :class:`MissingPersonalisation` or :class:`EmptyMessage`.
    """
    missing: list[str] = []
    try:
        filled_subject = substitute(subject, personalisation, list_style="inline")
    except MissingPersonalisation as exc:
        missing.extend(exc.names)
        filled_subject = ""
    try:
        body = substitute(content, personalisation, list_style="bullets")
    except MissingPersonalisation as exc:
        missing.extend(exc.names)
        body = ""
    if missing:
        raise MissingPersonalisation(unique_names(missing))
    if not body.strip():
        raise EmptyMessage()
    return RenderedEmail(subject=" ".join(filled_subject.split()), body=body)
