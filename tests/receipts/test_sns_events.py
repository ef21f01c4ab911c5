"""From SES and End User Messaging SMS events to receipts, with nothing of the recipient kept."""

from __future__ import annotations

import orjson
import pytest

from notify.receipts.apply import Receipt
from notify.receipts.sns_events import SMS_EVENTS, parse_sns_event
from notify.receipts.sns_sms_log import parse_delivery_status
from notify.statuses import REASON_LABELS, Status, label
from tests.receipts.sns_logs import delivery_event
from tests.support.sns import ses_event, sms_event

EMAIL = "kim.recipient@agency.example.gov"
PHONE = "+12025550188"


def _parse(event: dict[str, object]) -> list[Receipt]:
    return list(parse_sns_event(orjson.dumps(event).decode()).receipts)


@pytest.mark.parametrize("source", ["eventType", "notificationType"])
@pytest.mark.parametrize(
    ("event_type", "detail", "expected"),
    [
        ("Delivery", {}, Receipt("ses-1", Status.delivered)),
        ("Bounce", {}, Receipt("ses-1", Status.permanent_failure, provider_response="Permanent/General")),
        ("Bounce", {"bounce_type": "Transient", "bounce_sub_type": "MailboxFull"},
         Receipt("ses-1", Status.temporary_failure, provider_response="Transient/MailboxFull")),
        ("Bounce", {"bounce_type": "Undetermined", "bounce_sub_type": "Undetermined"},
         Receipt("ses-1", Status.temporary_failure, provider_response="Undetermined/Undetermined")),
        ("Complaint", {}, Receipt("ses-1", Status.delivered)),
        ("DeliveryDelay", {}, Receipt("ses-1", Status.pending)),
        ("Reject", {}, Receipt("ses-1", Status.technical_failure, provider_response="Rejected by Amazon SES")),
    ],
)
def test_ses_events(source: str, event_type: str, detail: dict[str, str], expected: Receipt) -> None:
    assert _parse(ses_event(event_type, "ses-1", EMAIL, source=source, **detail)) == [expected]


@pytest.mark.parametrize("event_type", ["Send", "Open", "Click", "Subscription"])
def test_ses_events_that_say_nothing_about_delivery_are_ignored(event_type: str) -> None:
    parsed = parse_sns_event(orjson.dumps(ses_event(event_type, "ses-1", EMAIL)).decode())
    assert (parsed.receipts, parsed.recognised, parsed.kind) == ((), True, f"ses.{event_type}")


def test_a_bounce_type_that_is_not_a_plain_word_is_not_stored() -> None:
    event = ses_event("Bounce", "ses-1", EMAIL, bounce_sub_type=f"<{EMAIL}>")
    assert _parse(event) == [Receipt("ses-1", Status.permanent_failure, provider_response="Permanent")]


@pytest.mark.parametrize(
    ("event_type", "status", "report_label"),
    [
        ("TEXT_DELIVERED", Status.delivered, "Delivered"),
        ("TEXT_SUCCESSFUL", Status.delivered, "Delivered"),
        ("TEXT_PENDING", Status.pending, "Pending"),
        ("TEXT_QUEUED", Status.pending, "Pending"),
        ("TEXT_INVALID", Status.permanent_failure, "Phone number doesn't exist"),
        ("TEXT_BLOCKED", Status.permanent_failure, "Recipient has blocked text messages"),
        ("TEXT_CARRIER_BLOCKED", Status.permanent_failure, "Carrier rejected"),
        ("TEXT_SPAM", Status.permanent_failure, "Carrier rejected: marked as spam"),
        ("TEXT_OPTED_OUT", Status.permanent_failure, "Recipient has opted out"),
        ("TEXT_CARRIER_UNREACHABLE", Status.temporary_failure, "Carrier not reachable right now"),
        ("TEXT_UNREACHABLE", Status.temporary_failure, "Phone not reachable right now"),
        ("TEXT_TTL_EXPIRED", Status.temporary_failure, "Phone not reachable right now"),
        ("TEXT_UNKNOWN", Status.technical_failure, "Carrier could not reach the phone"),
        ("TEXT_INVALID_MESSAGE", Status.technical_failure, "Technical failure"),
        ("TEXT_PROTECT_BLOCKED", Status.technical_failure, "Technical failure"),
    ],
)
def test_sms_events_map_to_statuses_and_report_labels(event_type: str, status: Status, report_label: str) -> None:
    [receipt] = _parse(sms_event(event_type, "sms-1", PHONE))
    assert (receipt.provider_reference, receipt.status, receipt.carrier) == ("sms-1", status, "Verizon Wireless")
    assert label("sms", receipt.status, receipt.provider_response) == report_label


def test_every_sms_failure_response_is_a_report_label_or_says_why_not() -> None:
    own_wording = {"TEXT_INVALID_MESSAGE", "TEXT_PROTECT_BLOCKED"}  # not the recipient's failure: no reason label
    for event_type, (status, response) in SMS_EVENTS.items():
        if response is not None and event_type not in own_wording:
            assert response.lower() in REASON_LABELS, event_type


@pytest.mark.parametrize(
    ("carrier", "kept"),
    [
        ("Verizon Wireless", "Verizon Wireless"),
        ("  AT&T   Mobility ", "AT&T Mobility"),
        ("Carrier for +1 (202) 555-0188", None),
        ("2025550188", None),
        ("T-Mobile 5G", "T-Mobile 5G"),
        ("x" * 300, None),
        ("", None),
    ],
)
def test_sns_and_cloudwatch_keep_a_carrier_by_the_same_rule(carrier: str, kept: str | None) -> None:
    """A carrier name that could quote the phone number is dropped, whichever source it came from."""
    (over_sns,) = _parse(sms_event("TEXT_DELIVERED", "sms-1", PHONE, carrier=carrier))
    from_logs = parse_delivery_status(delivery_event("sns-1", PHONE, carrier=carrier))
    assert over_sns.carrier == from_logs.carrier == kept


def test_sms_event_without_a_carrier() -> None:
    assert _parse(sms_event("TEXT_DELIVERED", "sms-1", PHONE, carrier=None)) == [Receipt("sms-1", Status.delivered)]


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[1, 2]",
        '{"hello": "world"}',
        '{"eventType": "MEDIA_DELIVERED", "messageId": "m"}',
        '{"eventType": "TEXT_SOMETHING_NEW", "messageId": "m"}',
        '{"eventType": "TEXT_DELIVERED"}',
        '{"eventType": "TEXT_DELIVERED", "messageId": 42}',
        '{"eventType": "Delivery", "mail": {}}',
        '{"eventType": "Somethingelse", "mail": {"messageId": "m"}}',
        '{"eventType": {"nested": true}, "mail": {"messageId": "m"}}',
    ],
)
def test_unknown_shapes_give_no_receipts_and_a_loggable_kind(message: str) -> None:
    parsed = parse_sns_event(message)
    assert parsed.receipts == ()
    assert parsed.recognised is False
    assert set(parsed.kind) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.- ")


def test_nothing_of_the_recipient_reaches_a_receipt() -> None:
    events = [ses_event(kind, "ses-1", EMAIL) for kind in ("Delivery", "Bounce", "Complaint", "DeliveryDelay", "Reject")]
    events += [sms_event(kind, "sms-1", PHONE) for kind in SMS_EVENTS]
    text = repr([_parse(event) for event in events])
    assert EMAIL not in text and "kim.recipient" not in text and "5550188" not in text
