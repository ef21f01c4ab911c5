"""SNS SMS delivery-status log events (CloudWatch Logs) turned into receipts.

SNS writes one JSON event per SMS to ``sns/<region>/<account>/DirectPublishToPhoneNumber`` (and
``.../Failure``)::

    {"notification": {"messageId": "...", "timestamp": "..."},
     "delivery": {"destination": "+1...", "phoneCarrier": "...", "providerResponse": "...", ...},
     "status": "SUCCESS" | "FAILURE"}

``delivery.destination`` is the recipient's phone number, so this module reads four fields and
nothing else: the message id (our provider reference), the status, the carrier and AWS's short
provider response.  Errors say what was wrong with an event, never what it contained.
"""

from __future__ import annotations

import json

from notify.receipts.apply import Receipt
from notify.receipts.provider_text import MAX_PROVIDER_TEXT, keep_provider_text
from notify.statuses import Status

# AWS's providerResponse wording (lower-cased) for failures that will not change on a retry:
# the number is wrong, opted out or blocked.
PERMANENT_RESPONSES: frozenset[str] = frozenset(
    {
        "invalid phone number",
        "phone number is opted out",
        "opted out",
        "phone carrier has blocked this message",
        "blocked as spam by phone carrier",
        "phone has blocked sms",
        "destination is on a blocked list",
        "phone is on a blocked list",
    }
)

# Failures that a later send may get past: the phone or its carrier was unreachable for a while.
TEMPORARY_RESPONSES: frozenset[str] = frozenset(
    {
        "phone is currently unreachable/unavailable",
        "phone carrier is currently unreachable/unavailable",
        "ttl expired",
    }
)


class MalformedEvent(ValueError):
    """A log event that is not an SMS delivery status; ``reason`` is a fixed label, never content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def failure_status(provider_response: str | None) -> Status:
    """Which failure an AWS provider response means; wording we do not know is a technical failure."""
    key = _normalise(provider_response)
    if key in PERMANENT_RESPONSES:
        return Status.permanent_failure
    if key in TEMPORARY_RESPONSES:
        return Status.temporary_failure
    return Status.technical_failure


def parse_delivery_status(message: str) -> Receipt:
    """The receipt one log event's message carries; raises MalformedEvent for anything else."""
    try:
        event = json.loads(message)
    except (ValueError, TypeError):
        raise MalformedEvent("not-json") from None
    if not isinstance(event, dict):
        raise MalformedEvent("not-an-object")
    notification = event.get("notification")
    delivery = event.get("delivery")
    if not isinstance(notification, dict) or not isinstance(delivery, dict):
        raise MalformedEvent("missing-notification-or-delivery")
    reference = notification.get("messageId")
    if not isinstance(reference, str) or not reference.strip() or len(reference) > MAX_PROVIDER_TEXT:
        raise MalformedEvent("missing-message-id")
    response = keep_provider_text(delivery.get("providerResponse"))
    carrier = keep_provider_text(delivery.get("phoneCarrier"))
    match event.get("status"):
        case "SUCCESS":
            status = Status.delivered
        case "FAILURE":
            status = failure_status(response)
        case _:
            raise MalformedEvent("unknown-status")
    return Receipt(reference.strip(), status, carrier, response)


def _normalise(text: str | None) -> str:
    return " ".join((text or "").split()).rstrip(".").lower()

