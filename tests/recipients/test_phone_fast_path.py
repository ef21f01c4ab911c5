"""The phone fast path may only accept what the phonenumbers path accepts, with the same E.164.

``_normalise_nanp_fast`` returns None when unsure; these tests check that whenever it returns a
number, the slow path (phonenumbers parse + policy) returns exactly that number, over generated
digit strings, punctuation, plus signs, country codes and regions.
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notify.recipients.phone import (
    InvalidPhoneNumber,
    _country_code,
    _normalise_nanp_fast,
    _normalise_slow,
    normalise_phone,
    phone_normaliser,
)

PUNCTUATION = [" ", "-", ".", "(", ")", "\u00a0", "\u2010", "\u2013", "\u2014", "\u2212", "\t", "/", "+", "x", "#", "\uff10"]
COUNTRY_CODES = ["", "1", "44", "33", "61", "91", "999", "0", "011", "1 1"]
REGIONS = ["US", "CA", "GB", "us", "AG", "PR"]


def _slow(raw: str, region: str, allow_international: bool) -> str | None:
    try:
        return _normalise_slow(raw, region, _country_code(region), allow_international)
    except InvalidPhoneNumber:
        return None


@st.composite
def digit_strings(draw: st.DrawFn) -> str:
    digits = draw(st.text("0123456789", min_size=7, max_size=15))
    out = []
    for digit in digits:
        if draw(st.booleans()):
            out.append(draw(st.sampled_from(PUNCTUATION)))
        out.append(digit)
    prefix = draw(st.sampled_from(["", "+", "+ ", " (", "\t", "+(", "1-", "(+"]))
    code = draw(st.sampled_from(COUNTRY_CODES))
    suffix = draw(st.sampled_from(["", " ", ")", "\n", "-", " x"]))
    return prefix + code + "".join(out) + suffix


@st.composite
def us_numbers(draw: st.DrawFn) -> str:
    """Mostly valid NANP numbers, so the fast path is exercised, in many layouts."""
    area = draw(st.sampled_from(["202", "212", "415", "613", "268", "787", "809", "800", "900", "555", "023"]))
    exchange = draw(st.integers(100, 999))
    line = draw(st.integers(0, 9999))
    sep = draw(st.sampled_from(["", " ", "-", ".", "\u2013", "\u00a0", " - "]))
    layout = draw(st.sampled_from(["{a}{s}{e}{s}{l}", "({a}){s}{e}{s}{l}", "1{s}{a}{s}{e}{s}{l}", "+1{s}{a}{s}{e}{s}{l}", "+1 ({a}) {e}-{l}", "+{a}{e}{l}"]))
    return layout.format(a=area, e=exchange, l=f"{line:04d}", s=sep)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(digit_strings(), us_numbers(), st.text(max_size=20)), region=st.sampled_from(REGIONS), allow_international=st.booleans())
def test_fast_path_accepts_only_what_the_slow_path_accepts(raw: str, region: str, allow_international: bool) -> None:
    fast = _normalise_nanp_fast(raw, region.upper())
    if fast is not None:
        assert _slow(raw, region, allow_international) == fast
    # And the public function is the slow path's answer either way.
    try:
        public = normalise_phone(raw, default_region=region, allow_international=allow_international)
    except InvalidPhoneNumber:
        public = None
    assert public == _slow(raw, region, allow_international)
    try:
        bound = phone_normaliser(region, allow_international=allow_international)(raw)
    except InvalidPhoneNumber:
        bound = None
    assert bound == public


@pytest.mark.parametrize(
    "raw",
    ["(202) 555-0143", "202-555-0143", "202.555.0143", "2025550143", "12025550143", "+12025550143",
     "+1 202 555 0143", "1-202-555-0143", "+1 (202) 555-0143", " 202 555 0143 ", "202\u2013555\u20140143",
     "(613) 555-0143"],
)
def test_common_us_layouts_take_the_fast_path(raw: str) -> None:
    fast = _normalise_nanp_fast(raw, "US")
    assert fast is not None
    assert fast == phonenumbers.format_number(phonenumbers.parse(raw, "US"), phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("+447700900123", "US"),  # other country codes: slow path (policy, UK rules)
        ("07700 900123", "GB"),  # non-NANP default region
        ("2025550143", "AG"),  # NANP region with a national-prefix transform: gate refuses
        ("202-555-0143 ext 12", "US"),
        ("\uff12\uff10\uff12\uff15\uff15\uff15\uff10\uff11\uff14\uff13", "US"),  # full-width digits
        ("+1 555 555 5555", "US"),  # invalid: the slow path gives the reason
        ("202\t555\t0143", "US"),  # tab is not phonenumbers punctuation
    ],
)
def test_unusual_input_falls_back(raw: str, region: str) -> None:
    assert _normalise_nanp_fast(raw, region) is None


def test_bound_normaliser_checks_the_region_up_front() -> None:
    with pytest.raises(ValueError, match="Unknown region code"):
        phone_normaliser("XX")
