"""Email normalisation: email-validator decides, reasons never quote the address."""

from __future__ import annotations

import pytest

from notify.recipients.email import InvalidEmailAddress, normalise_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jane.doe@example.com", "jane.doe@example.com"),
        ("  Jane.Doe@Example.COM \n", "Jane.Doe@example.com"),
        ("\u00a0jane@example.gov\u00a0", "jane@example.gov"),
        ("simulate-delivered@notifications.service.gov.uk",
         "simulate-delivered@notifications.service.gov.uk"),
        ("first+tag@sub.agency.gov", "first+tag@sub.agency.gov"),
        ("a@xn--mnchen-3ya.de", "a@münchen.de"),
        ("user@MÜNCHEN.de", "user@münchen.de"),
    ],
)
def test_accepts_and_normalises(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "jane.doe",
        "jane.doe@",
        "@example.com",
        "jane.doe@example",
        "jane..doe@example.com",
        "jane doe@example.com",
        "Jane Doe <jane@example.com>",
        "jane@example.com, joe@example.com",
        "jane@[192.0.2.1]",
        "jane@localhost",
        "jane@service.test",
        "jane@@example.com",
    ],
)
def test_rejects(raw: str) -> None:
    with pytest.raises(InvalidEmailAddress) as excinfo:
        normalise_email(raw)
    assert excinfo.value.reason == "Not a valid email address"


@pytest.mark.parametrize(
    "raw",
    ["jane..doe@example.com", "jane@secret-agency.test", "distinctive<user>@example.com"],
)
def test_errors_never_contain_the_address(raw: str) -> None:
    with pytest.raises(InvalidEmailAddress) as excinfo:
        normalise_email(raw)
    error = excinfo.value
    # email-validator's own messages can quote the domain, so nothing of it may be chained.
    assert error.__cause__ is None
    assert error.__suppress_context__
    local, _, domain = raw.partition("@")
    for text in (str(error), repr(error), error.reason):
        assert local not in text
        assert domain not in text
