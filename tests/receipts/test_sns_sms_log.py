"""Reading SNS SMS delivery-status events: AWS's wording to our statuses, and nothing else kept."""

from __future__ import annotations

import json

import pytest

from notify.receipts.sns_sms_log import (
    PERMANENT_RESPONSES,
    TEMPORARY_RESPONSES,
    MalformedEvent,
    failure_status,
    parse_delivery_status,
)
from notify.statuses import REASON_LABELS, Status
from tests.receipts.sns_logs import delivery_event


@pytest.mark.parametrize(
    ("response", "status"),
    [
        ("Invalid phone number", Status.permanent_failure),
        ("Phone number is opted out", Status.permanent_failure),
        ("Phone carrier has blocked this message", Status.permanent_failure),
        ("Phone has blocked SMS", Status.permanent_failure),
        ("Destination is on a blocked list", Status.permanent_failure),
        ("Phone is on a blocked list", Status.permanent_failure),
        ("Blocked as spam by phone carrier", Status.permanent_failure),
        ("Phone is currently unreachable/unavailable", Status.temporary_failure),
        ("Phone carrier is currently unreachable/unavailable", Status.temporary_failure),
        ("TTL expired", Status.temporary_failure),
        ("  ttl   EXPIRED. ", Status.temporary_failure),
        ("Unknown error attempting to reach phone", Status.technical_failure),
        ("This delivery would exceed max price", Status.technical_failure),
        ("Message body is invalid", Status.technical_failure),
        ("Something AWS has never said", Status.technical_failure),
        (None, Status.technical_failure),
    ],
)
def test_failure_wording_maps_to_a_status(response: str | None, status: Status) -> None:
    assert failure_status(response) is status


def test_every_known_failure_has_a_report_label() -> None:
    assert (PERMANENT_RESPONSES | TEMPORARY_RESPONSES) <= set(REASON_LABELS)


def test_only_reference_status_carrier_and_response_are_kept() -> None:
    receipt = parse_delivery_status(
        delivery_event("sns-1", "+12025550100", success=False, response="Phone has blocked SMS", carrier="AT&T")
    )
    assert (receipt.provider_reference, receipt.status, receipt.carrier, receipt.provider_response) == (
        "sns-1", Status.permanent_failure, "AT&T", "Phone has blocked SMS"
    )
    assert "2025550100" not in repr(receipt)


@pytest.mark.parametrize("text", ["Rejected for +1 (202) 555-0100", "number 2025550100 unreachable", "x" * 300])
def test_a_response_that_could_hold_a_number_is_dropped(text: str) -> None:
    receipt = parse_delivery_status(delivery_event("sns-2", "+12025550100", response=text, carrier=text))
    assert (receipt.status, receipt.carrier, receipt.provider_response) == (Status.delivered, None, None)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("+12025550100 not json", "not-json"),
        (json.dumps(["+12025550100"]), "not-an-object"),
        (json.dumps({"delivery": {"destination": "+12025550100"}, "status": "SUCCESS"}),
         "missing-notification-or-delivery"),
        (json.dumps({"notification": {}, "delivery": {}, "status": "SUCCESS"}), "missing-message-id"),
        (json.dumps({"notification": {"messageId": 7}, "delivery": {}, "status": "SUCCESS"}), "missing-message-id"),
        (json.dumps({"notification": {"messageId": "m"}, "delivery": {}, "status": "DELIVERED"}), "unknown-status"),
    ],
)
def test_malformed_events_say_why_but_not_what(message: str, reason: str) -> None:
    with pytest.raises(MalformedEvent) as raised:
        parse_delivery_status(message)
    assert raised.value.reason == reason
    assert str(raised.value) == reason and raised.value.__cause__ is None
