"""The email fast path may only accept what email-validator accepts, with the same normalised form."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notify.recipients.email import InvalidEmailAddress, _normalise_plain_ascii, normalise_email

ATEXT = "abcXYZ019_!#$%&'*+/=?^`{|}~-"
LABEL_CHARS = "abcxnzABCXN019-"
TLDS = ["com", "GOV", "uk", "test", "localhost", "arpa", "onion", "local", "invalid", "example", "x1", "1", "xn--p1ai", "a", "c-m", "internal"]


def _slow(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@st.composite
def addresses(draw: st.DrawFn) -> str:
    local = draw(st.sampled_from(["", "Postmaster", "info", "ABUSE", "jane.doe", "j..d", ".j", "j."]))
    if not local or draw(st.booleans()):
        local = draw(st.text(ATEXT + ".", min_size=0, max_size=70))
    labels = draw(st.lists(st.text(LABEL_CHARS, min_size=0, max_size=66), min_size=0, max_size=4))
    tld = draw(st.one_of(st.sampled_from(TLDS), st.text(LABEL_CHARS, min_size=1, max_size=5)))
    domain = ".".join([*labels, tld])
    if draw(st.integers(0, 20)) == 0:
        domain = ("a" * 60 + ".") * 4 + domain  # long domains and addresses
    return f"{local}@{domain}"


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(addresses(), st.text(max_size=40), st.from_regex(r"[a-z.]{1,8}@[a-zA-Z.\-]{1,12}", fullmatch=True)))
def test_fast_path_accepts_only_what_email_validator_accepts(raw: str) -> None:
    fast = _normalise_plain_ascii(raw)
    if fast is not None:
        assert _slow(raw) == fast
    try:
        public = normalise_email(raw)
    except InvalidEmailAddress:
        public = None
    assert public == _slow(raw.strip())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("jane.doe@example.com", "jane.doe@example.com"), ("Jane.Doe@Example.GOV.uk", "Jane.Doe@example.gov.uk"),
     ("first+tag@sub.agency.gov", "first+tag@sub.agency.gov")],
)
def test_plain_addresses_take_the_fast_path(raw: str, expected: str) -> None:
    assert _normalise_plain_ascii(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["a@xn--mnchen-3ya.de", "Postmaster@example.com", "jane@service.test", "jane@localhost", "\"j\"@example.com", "jane@example.c0"],
)
def test_special_cases_fall_back(raw: str) -> None:
    assert _normalise_plain_ascii(raw) is None
