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
    Status.temporary_failure: "Inbox or phone not accepting messages right now",
    Status.technical_failure: "Technical failure",
    Status.cancelled: "Cancelled",
}

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
