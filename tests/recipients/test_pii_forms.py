"""The PII audit's form generator: it must cover how recipients really get rewritten."""

from __future__ import annotations

import pytest

from tests.support.pii_forms import personalisation_forms, recipient_forms


def test_us_phone_forms() -> None:
    forms = recipient_forms("(202) 555-0143")
    assert {
        "(202) 555-0143",
        "+12025550143",
        "12025550143",
        "2025550143",
        "+1 202-555-0143",
        "tel:+1-202-555-0143",
        "202-555-0143",
        "202.555.0143",
        "202 555 0143",
        "1-202-555-0143",
    } <= forms


def test_phone_forms_from_e164_input() -> None:
    forms = recipient_forms("+12025550143")
    assert {"(202) 555-0143", "2025550143", "+1 202-555-0143"} <= forms


def test_uk_test_number_forms() -> None:
    forms = recipient_forms("07700 900123")
    assert {
        "07700 900123",
        "07700900123",
        "+447700900123",
        "447700900123",
        "7700900123",
        "+44 7700 900123",
        "tel:+44-7700-900123",
    } <= forms


def test_invalid_phone_still_yields_raw_forms() -> None:
    forms = recipient_forms("  +1 555 555 5555 ")
    assert {"  +1 555 555 5555 ", "+1 555 555 5555", "15555555555", "+15555555555"} <= forms


def test_unparseable_recipient_yields_raw_forms() -> None:
    assert recipient_forms("not a number at all") >= {"not a number at all"}


@pytest.mark.parametrize("value", ["(202) 555-0143", "07700 900123", " Jane.Doe@Example.COM "])
def test_no_short_forms(value: str) -> None:
    assert all(len(form) >= 6 for form in recipient_forms(value))
    assert all(len(form) >= 7 for form in recipient_forms(value) if "@" not in value)


def test_email_forms() -> None:
    forms = recipient_forms(" Jane.Doe@Example.COM ")
    assert {
        " Jane.Doe@Example.COM ",
        "Jane.Doe@Example.COM",
        "jane.doe@example.com",
        "JANE.DOE@EXAMPLE.COM",
        "Jane.Doe@example.com",
        "Jane.Doe",
        "jane.doe",
    } <= forms
    assert "example.com" not in forms


def test_short_local_part_is_not_a_form() -> None:
    forms = recipient_forms("jo@example.com")
    assert "jo" not in forms
    assert "jo@example.com" in forms


def test_invalid_email_still_yields_raw_forms() -> None:
    assert {"jane..doe@example.com", "JANE..DOE@EXAMPLE.COM"} <= recipient_forms(
        "jane..doe@example.com"
    )


def test_personalisation_forms() -> None:
    assert personalisation_forms("  Springfield ") == {
        "  Springfield ",
        "Springfield",
        "springfield",
    }


@pytest.mark.parametrize("value", ["", "Bob", "  Bob  ", "12345"])
def test_short_personalisation_is_not_searched(value: str) -> None:
    assert all(len(form) >= 6 for form in personalisation_forms(value))
