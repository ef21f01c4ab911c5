"""What an SNS notification says about our messages: SES email events and End User Messaging SMS events.

Both sources put a JSON event in the notification's ``Message``. Both events also carry the
recipient (SES: ``mail.destination``, the bounced recipients and diagnostic codes that quote the
address; SMS: ``destinationPhoneNumber``), so this module reads only the fields it names below and
builds each receipt's provider response from fixed wording, never from the event's free text.

Event shapes, as AWS documents them:
- SES event publishing (``eventType``) and SES notifications (``notificationType``): reference in
  ``mail.messageId``; ``bounce.bounceType`` / ``bounce.bounceSubType``.
  docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
- End User Messaging SMS event destinations: ``eventType`` (TEXT_*), reference in ``messageId``,
  optional ``carrierName`` (kept only through notify.receipts.provider_text).
  docs.aws.amazon.com/sms-voice/latest/userguide/configuration-sets-event-types.html

Anything else is recognised as nothing: acknowledged and logged by its type name only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from notify.receipts.apply import Receipt
from notify.receipts.provider_text import keep_provider_text
from notify.statuses import Status

MAX_REFERENCE_LENGTH = 255

_NAME = re.compile(r"[A-Za-z][A-Za-z_ ]{0,63}")  # an event type or bounce type, safe to log or store


@dataclass(frozen=True, slots=True)
class SnsEvent:
    """``kind`` is safe to log (a source and an event type name); ``receipts`` may be empty.

    ``recognised`` is False for a shape or event type this module does not know, which operators
    should hear about (a new AWS event type, or a topic wired to the wrong source).
    """

    kind: str
    receipts: tuple[Receipt, ...] = ()
    recognised: bool = True


# End User Messaging SMS: event type -> (status, provider response). Responses use the wording of
# notify.statuses.REASON_LABELS, so reports show the human label.
SMS_EVENTS: dict[str, tuple[Status, str | None]] = {
    "TEXT_DELIVERED": (Status.delivered, None),
    "TEXT_SUCCESSFUL": (Status.delivered, None),
    "TEXT_PENDING": (Status.pending, None),
    "TEXT_QUEUED": (Status.pending, None),
    "TEXT_INVALID": (Status.permanent_failure, "Invalid phone number"),
    "TEXT_BLOCKED": (Status.permanent_failure, "Phone has blocked SMS"),
    "TEXT_CARRIER_BLOCKED": (Status.permanent_failure, "Phone carrier has blocked this message"),
    "TEXT_SPAM": (Status.permanent_failure, "Blocked as spam by phone carrier"),
    # Not in AWS's published event list (opt-outs usually refuse the send itself); mapped should it appear.
    "TEXT_OPTED_OUT": (Status.permanent_failure, "Phone number is opted out"),
    "TEXT_CARRIER_UNREACHABLE": (Status.temporary_failure, "Phone carrier is currently unreachable/unavailable"),
    "TEXT_UNREACHABLE": (Status.temporary_failure, "Phone is currently unreachable/unavailable"),
    "TEXT_TTL_EXPIRED": (Status.temporary_failure, "TTL expired"),
    # The message body, not the phone number, was refused: ours to fix, so not the recipient's failure.
    "TEXT_INVALID_MESSAGE": (Status.technical_failure, "Invalid message"),
    # Our own account's SMS protect configuration refused the destination.
    "TEXT_PROTECT_BLOCKED": (Status.technical_failure, "Blocked by SMS protect configuration"),
    "TEXT_UNKNOWN": (Status.technical_failure, "Unknown error attempting to reach phone"),
}

# SES: event type -> (status, provider response). Bounce is decided by its bounce type (below).
SES_STATUSES: dict[str, tuple[Status, str | None]] = {
    "Delivery": (Status.delivered, None),
    # A complaint means the mail arrived; it never turns a notification into a failure.
    "Complaint": (Status.delivered, None),
    "DeliveryDelay": (Status.pending, None),
    "Reject": (Status.technical_failure, "Rejected by Amazon SES"),
    "Rendering Failure": (Status.technical_failure, "Email rendering failed"),
}
# Events that say nothing about delivery: acknowledged, no receipt.
SES_IGNORED = frozenset({"Send", "Open", "Click", "Subscription"})


def parse_sns_event(message: str) -> SnsEvent:
    """The receipts a notification's ``Message`` implies; never raises on an unexpected shape."""
    try:
        event = orjson.loads(message)
    except orjson.JSONDecodeError:
        return SnsEvent("unrecognised.not-json", recognised=False)
    if not isinstance(event, dict):
        return SnsEvent("unrecognised.not-an-object", recognised=False)
    if isinstance(event.get("mail"), dict):
        return _ses_event(event)
    event_type = event.get("eventType")
    if isinstance(event_type, str) and event_type.startswith(("TEXT_", "MEDIA_", "VOICE_")):
        return _sms_event(event, event_type)
    return SnsEvent("unrecognised." + _safe_name(event_type), recognised=False)


def _ses_event(event: dict[str, Any]) -> SnsEvent:
    event_type = _name_or_none(event.get("eventType") or event.get("notificationType"))
    kind = "ses." + (event_type or "unknown")
    reference = _reference(event["mail"].get("messageId"))
    if event_type in SES_IGNORED:
        return SnsEvent(kind)
    if reference is None:
        return SnsEvent(kind, recognised=False)
    if event_type == "Bounce":
        bounce = event.get("bounce")
        bounce = bounce if isinstance(bounce, dict) else {}
        bounce_type = _name_or_none(bounce.get("bounceType"))
        status = Status.permanent_failure if bounce_type == "Permanent" else Status.temporary_failure
        response = "/".join(
            part for part in (bounce_type, _name_or_none(bounce.get("bounceSubType"))) if part
        ) or None
        return SnsEvent(kind, (Receipt(reference, status, provider_response=response),))
    if event_type in SES_STATUSES:
        status, response = SES_STATUSES[event_type]
        return SnsEvent(kind, (Receipt(reference, status, provider_response=response),))
    return SnsEvent(kind, recognised=False)


def _sms_event(event: dict[str, Any], event_type: str) -> SnsEvent:
    kind = "sms." + _safe_name(event_type)
    reference = _reference(event.get("messageId"))
    if reference is None or event_type not in SMS_EVENTS:
        return SnsEvent(kind, recognised=False)
    status, response = SMS_EVENTS[event_type]
    carrier = keep_provider_text(event.get("carrierName"))  # the same rule as the CloudWatch path
    return SnsEvent(kind, (Receipt(reference, status, carrier=carrier, provider_response=response),))


def _reference(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_REFERENCE_LENGTH:
        return value
    return None


def _name_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and _NAME.fullmatch(value) else None


def _safe_name(value: object) -> str:
    return _name_or_none(value) or "unknown"
