"""Every status has a human label for reports, worded for the channel, refined by the provider's reason."""

from __future__ import annotations

from notify.receipts.timeouts import TIMED_OUT
from notify.statuses import REASON_LABELS, Status, label


def test_every_status_has_a_label_for_both_channels() -> None:
    for status in Status:
        for channel in ("sms", "email"):
            assert label(channel, status)


def test_failures_read_as_what_happened() -> None:
    assert label("sms", Status.permanent_failure) == "Phone number doesn't exist"
    assert label("email", Status.permanent_failure) == "Email address doesn't exist"
    assert label("sms", Status.permanent_failure, "Phone carrier has blocked this message") == "Carrier rejected"
    assert label("sms", Status.temporary_failure, TIMED_OUT) == "No delivery receipt from the carrier"
    # A reason only refines failures; a delivered message never reads as a failure.
    assert label("sms", Status.delivered, "Phone carrier has blocked this message") == "Delivered"
    assert label("sms", Status.technical_failure, "something new from AWS") == "Technical failure"


def test_reason_keys_are_lower_case_so_lookups_ignore_case() -> None:
    assert all(key == key.lower().strip() for key in REASON_LABELS)
