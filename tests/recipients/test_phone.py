"""Phone normalisation: accepted formats, refusals, and reasons that never quote the number."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.recipients.phone import InvalidPhoneNumber, is_international, normalise_phone

US_E164 = "+12025550143"


@pytest.mark.parametrize(
    "raw",
    [
        "(202) 555-0143",
        "202.555.0143",
        "202-555-0143",
        "+1 202-555-0143",
        "+1 (202) 555-0143",
        "2025550143",
        "12025550143",
        "+12025550143",
        "1-202-555-0143",
        "  202 555 0143  ",
        "\u00a0202\u00a0555\u00a00143\u00a0",  # non-breaking spaces
        "202\u2013555\u20140143",  # en dash, em dash
        "202\u2010555\u22120143",  # hyphen, minus sign
        "\uff12\uff10\uff12\uff15\uff15\uff15\uff10\uff11\uff14\uff13",  # full-width digits
        "\t+1 202 555 0143\n",
    ],
)
def test_accepts_common_us_formats(raw: str) -> None:
    assert normalise_phone(raw) == US_E164


@pytest.mark.parametrize(
    ("raw", "default_region", "expected"),
    [
        # Notify.gov simulated numbers.
        ("+14254147755", "US", "+14254147755"),
        ("+14254147167", "US", "+14254147167"),
        ("(425) 414-7755", "US", "+14254147755"),
        # US fiction range 555-0100..0199 is valid in phonenumbers.
        ("212-555-0100", "US", "+12125550100"),
        ("212-555-0199", "US", "+12125550199"),
        # GOV.UK test numbers: Ofcom's drama range, invalid in phonenumbers, accepted by rule.
        ("+447700900000", "GB", "+447700900000"),
        ("+447700900111", "GB", "+447700900111"),
        ("+447700900222", "GB", "+447700900222"),
        ("07700900002", "GB", "+447700900002"),
        ("07700900003", "GB", "+447700900003"),
        ("07700 900123", "GB", "+447700900123"),
        ("07700 900999", "GB", "+447700900999"),
        ("+44 (0)7700 900123", "GB", "+447700900123"),
        ("0044 7700 900123", "GB", "+447700900123"),
        # A real-looking UK mobile (valid per phonenumbers).
        ("07911 123456", "GB", "+447911123456"),
        # Canada shares +1, so it is domestic for a US service.
        ("+1 613 555 0143", "US", "+16135550143"),
    ],
)
def test_accepts_simulated_and_test_numbers(raw: str, default_region: str, expected: str) -> None:
    assert normalise_phone(raw, default_region=default_region) == expected


@pytest.mark.parametrize(
    ("raw", "kwargs", "reason"),
    [
        ("1-800-FLOWERS", {}, "Must not contain letters or symbols"),
        ("202-555-0143 ext 12", {}, "Must not contain letters or symbols"),
        ("202-555-0143 #12", {}, "Must not contain letters or symbols"),
        ("two oh two", {}, "Must not contain letters or symbols"),
        ("", {}, "Not a valid phone number"),
        ("   ", {}, "Not a valid phone number"),
        ("--", {}, "Not a valid phone number"),
        ("20", {}, "Not enough digits"),
        ("202555014", {}, "Not enough digits"),
        ("5550143", {}, "Not enough digits"),
        ("202555014312", {}, "Too many digits"),
        ("2025550143123456789", {}, "Too many digits"),
        ("+999 123 456 7890", {}, "Not a valid country prefix"),
        ("+1 555 555 5555", {}, "Not a valid US phone number"),
        ("(023) 555-0143", {}, "Not a valid US phone number"),
        (
            "+447700900123",
            {},
            "Not a US phone number. International messaging is not enabled for this service",
        ),
        (
            "+1 202 555 0143",
            {"default_region": "GB"},
            "Not a UK phone number. International messaging is not enabled for this service",
        ),
        ("+44 1632 960000", {"allow_international": True}, "Not a valid phone number"),
        # UK landlines (and 070 personal numbers) cannot receive SMS.
        ("020 7946 0000", {"default_region": "GB"}, "Not a UK mobile number"),
        ("+44 20 7946 0000", {"allow_international": True}, "Not a UK mobile number"),
        ("070 1234 5678", {"default_region": "GB"}, "Not a UK mobile number"),
        # Just outside the Ofcom drama range and not otherwise valid.
        ("07700 901000", {"default_region": "GB"}, "Not a valid UK phone number"),
        ("07700 90012", {"default_region": "GB"}, "Not enough digits"),
        ("07700 9001234", {"default_region": "GB"}, "Too many digits"),
    ],
)
def test_rejects_with_reason(raw: str, kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as excinfo:
        normalise_phone(raw, **kwargs)  # type: ignore[arg-type]
    assert excinfo.value.reason == reason
    assert str(excinfo.value) == reason


@pytest.mark.parametrize(
    ("raw", "default_region", "expected"),
    [
        ("+447700900123", "US", "+447700900123"),
        ("+44 7911 123456", "US", "+447911123456"),
        ("+33 6 12 34 56 78", "US", "+33612345678"),
        ("+1 202 555 0143", "GB", US_E164),
        ("+61 412 345 678", "GB", "+61412345678"),
    ],
)
def test_international_needs_permission(raw: str, default_region: str, expected: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match="International messaging is not enabled"):
        normalise_phone(raw, default_region=default_region)
    normalised = normalise_phone(raw, default_region=default_region, allow_international=True)
    assert normalised == expected
    assert is_international(normalised, default_region)


@pytest.mark.parametrize(
    ("e164", "default_region", "international"),
    [
        (US_E164, "US", False),
        ("+16135550143", "US", False),
        ("+447700900123", "US", True),
        ("+447700900123", "GB", False),
        (US_E164, "GB", True),
        ("+4915112345678", "GB", True),
    ],
)
def test_is_international(e164: str, default_region: str, international: bool) -> None:
    assert is_international(e164, default_region) is international


def test_is_international_refuses_non_e164() -> None:
    with pytest.raises(InvalidPhoneNumber):
        is_international("2025550143")


def test_unknown_default_region_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="Unknown region code") as excinfo:
        normalise_phone("2025550143", default_region="XX")
    assert not isinstance(excinfo.value, InvalidPhoneNumber)


LEAKY_INPUTS = [
    ("2025550143123456789", {}),
    ("202555014", {}),
    ("+1 555 555 5555", {}),
    ("+447700900123", {}),
    ("+44 20 7946 0000", {"allow_international": True}),
    ("07700 901000", {"default_region": "GB"}),
    ("202-555-0143 ext 12", {}),
    ("+999 123 456 7890", {}),
]


@pytest.mark.parametrize(("raw", "kwargs"), LEAKY_INPUTS)
def test_errors_never_contain_the_number(raw: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidPhoneNumber) as excinfo:
        normalise_phone(raw, **kwargs)  # type: ignore[arg-type]
    error = excinfo.value
    digits = "".join(filter(str.isdigit, raw))
    texts = [str(error), repr(error), error.reason, *map(str, error.args)]
    # The cause is logged with the traceback, so it must be clean too.
    if error.__cause__ is not None:
        texts += [str(error.__cause__), repr(error.__cause__)]
    for text in texts:
        assert raw.strip() not in text
        assert digits[-7:] not in "".join(filter(str.isdigit, text))


_us_national = st.builds(
    lambda area, exchange, line, sep, prefix: f"{prefix}{area}{sep}{exchange}{sep}{line}",
    st.integers(200, 999).map(str),
    st.integers(200, 999).map(str),
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
    st.sampled_from(["", " ", "-", ".", "\u2013", "\u00a0"]),
    st.sampled_from(["", "1", "1-", "+1 ", "+1"]),
)
_uk_mobile = st.builds(
    lambda rest, sep, prefix: f"{prefix}7{rest[:3]}{sep}{rest[3:]}",
    st.integers(0, 99_999_999).map(lambda n: f"{n:09d}"),
    st.sampled_from(["", " ", "-"]),
    st.sampled_from(["0", "+44 ", "+44"]),
)


@given(
    case=st.one_of(
        st.tuples(_us_national, st.just("US")),
        st.tuples(_uk_mobile, st.just("GB")),
        st.tuples(st.one_of(_us_national, _uk_mobile), st.sampled_from(["US", "GB"])),
    ),
    allow_international=st.booleans(),
)
def test_normalise_phone_is_idempotent(case: tuple[str, str], allow_international: bool) -> None:
    raw, default_region = case
    try:
        once = normalise_phone(
            raw, default_region=default_region, allow_international=allow_international
        )
    except InvalidPhoneNumber:
        return  # plenty of generated area codes are unassigned; idempotence is about successes
    twice = normalise_phone(
        once, default_region=default_region, allow_international=allow_international
    )
    assert twice == once
    assert once == phonenumbers.format_number(
        phonenumbers.parse(once, None), phonenumbers.PhoneNumberFormat.E164
    )


@given(raw=st.text(max_size=30), default_region=st.sampled_from(["US", "GB"]))
def test_arbitrary_text_is_normalised_or_refused_cleanly(raw: str, default_region: str) -> None:
    """Spreadsheet cells hold anything; only InvalidPhoneNumber may escape (never a 500)."""
    try:
        result = normalise_phone(raw, default_region=default_region, allow_international=True)
    except InvalidPhoneNumber:
        return
    assert result.startswith("+")
    assert result[1:].isdigit()
