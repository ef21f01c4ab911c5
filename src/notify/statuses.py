"""Notification statuses: the one place that says which status may follow which.

Receipts are an event stream that can arrive late, twice or out of order, so every writer moves a
notification only *forward* in this order; a late 'sending' never overwrites 'delivered'.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    created = "created"
    sending = "sending"
    pending = "pending"
    sent = "sent"  # handed to an international carrier; no further receipt expected
    delivered = "delivered"
    permanent_failure = "permanent-failure"
    temporary_failure = "temporary-failure"
    technical_failure = "technical-failure"
    cancelled = "cancelled"


FAILED: frozenset[Status] = frozenset(
    {Status.permanent_failure, Status.temporary_failure, Status.technical_failure}
)
FINAL: frozenset[Status] = FAILED | {Status.delivered, Status.sent, Status.cancelled}

# Rank used by every status writer (SQL included): a status may replace another only if its rank is higher.
RANK: dict[Status, int] = {
    Status.created: 0,
    Status.sending: 1,
    Status.pending: 2,
    **{status: 3 for status in FINAL},
}

LABELS: dict[Status, str] = {
    Status.created: "Queued",
    Status.sending: "Sending",
    Status.pending: "Pending",
    Status.sent: "Sent internationally",
    Status.delivered: "Delivered",
    Status.permanent_failure: "Phone number or email address doesn't exist",
    Status.temporary_failure: "Phone or inbox not accepting messages right now",
    Status.technical_failure: "Technical failure",
    Status.cancelled: "Cancelled",
}

# What a service team reads in a report: the failure wording depends on the channel.
_CHANNEL_LABELS: dict[tuple[str, Status], str] = {
    ("sms", Status.permanent_failure): "Phone number doesn't exist",
    ("sms", Status.temporary_failure): "Phone not accepting messages right now",
    ("email", Status.permanent_failure): "Email address doesn't exist",
    ("email", Status.temporary_failure): "Inbox not accepting messages right now",
}

# Provider responses that say more than the status does (AWS SMS delivery-status wording,
# lower-cased). A failed notification whose provider response is one of these shows this label.
REASON_LABELS: dict[str, str] = {
    "phone carrier has blocked this message": "Carrier rejected",
    "carrier rejected": "Carrier rejected",
    "blocked as spam by phone carrier": "Carrier rejected: marked as spam",
    "phone has blocked sms": "Recipient has blocked text messages",
    "opted out": "Recipient has opted out",
    "phone number is opted out": "Recipient has opted out",
    "invalid phone number": "Phone number doesn't exist",
    "destination is on a blocked list": "Carrier rejected",
    "phone is on a blocked list": "Carrier rejected",
    "phone is currently unreachable/unavailable": "Phone not reachable right now",
    "phone carrier is currently unreachable/unavailable": "Carrier not reachable right now",
    "ttl expired": "Phone not reachable right now",
    "no receipt within the timeout": "No delivery receipt from the carrier",
    "price exceeds max price": "Not sent: over the price limit",
    "this delivery would exceed max price": "Not sent: over the price limit",
    "message body is invalid": "Not sent: the carrier rejected the message content",
    "unknown error attempting to reach phone": "Carrier could not reach the phone",
    # Refusals at send time (notify.sending.providers.aws_sms), not carrier receipts.
    "destination country blocked": "Not sent: country not enabled",
    "destination phone number not verified": "Not sent: number not verified (sandbox)",
}


def label(notification_type: str, status: Status | str, provider_response: str | None = None) -> str:
    """The human status a report shows, e.g. "Phone number doesn't exist" or "Carrier rejected"."""
    status = Status(status)
    if status in FAILED and provider_response:
        reason = REASON_LABELS.get(provider_response.strip().lower())
        if reason is not None:
            return reason
    return _CHANNEL_LABELS.get((notification_type, status), LABELS[status])


def label_cases() -> list[tuple[str, str, str | None, str]]:
    """Every (notification_type, status, provider_response or None, label) that differs from LABELS.

    For code that must compute labels outside Python (a report formatted inside PostgreSQL)
    without a second copy of the wording.
    """
    cases: list[tuple[str, str, str | None, str]] = []
    for status in FAILED:
        for response, text in REASON_LABELS.items():
            cases.extend((kind, status.value, response, text) for kind in ("sms", "email"))
    cases.extend((kind, status.value, None, text) for (kind, status), text in _CHANNEL_LABELS.items())
    return cases


API_FILTERS: dict[str, frozenset[Status]] = {
    "failed": FAILED,
    **{status.value: frozenset({status}) for status in Status},
}


def can_follow(current: Status, new: Status) -> bool:
    return RANK[new] > RANK[current]


def expand_filter(values: list[str]) -> set[Status]:
    """Turn v2 `status` query values (which include the umbrella 'failed') into concrete statuses."""
    result: set[Status] = set()
    for value in values:
        if value not in API_FILTERS:
            raise ValueError(value)
        result |= API_FILTERS[value]
    return result
