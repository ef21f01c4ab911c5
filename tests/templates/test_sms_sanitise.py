"""Downgrading typographic characters so SMS stays GSM-7."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.templates import GSM_CHARACTERS, sanitise_sms, sms_length


def test_word_smart_quotes_become_plain_and_message_stays_gsm() -> None:
    pasted = "\u201cDon\u2019t forget\u201d \u2018your\u2019 letter"
    assert sms_length(pasted).encoding == "UCS-2"

    sanitised = sanitise_sms(pasted)

    assert sanitised == "\"Don't forget\" 'your' letter"
    assert sms_length(sanitised).encoding == "GSM-7"


def test_smart_quotes_keep_a_long_message_to_its_gsm_fragment_count() -> None:
    pasted = "\u2019" + "a" * 150
    assert sms_length(pasted).fragments == 3  # 151 UCS-2 units
    assert sms_length(sanitise_sms(pasted)).fragments == 1


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("9\u20135pm", "9-5pm"),  # en dash
        ("wait\u2014what", "wait-what"),  # em dash
        ("\u22121", "-1"),  # minus sign
        ("and so on\u2026", "and so on..."),
        ("10\u00a0Downing\u202fStreet", "10 Downing Street"),
        ("a\tb", "a b"),
        ("gov\u200b.uk", "gov.uk"),
        ("\ufeffHello", "Hello"),
        ("co\u00adoperate", "cooperate"),
        ("line\u2028break", "line\nbreak"),
        ("a\u200db", "ab"),  # joiner between GSM letters is dropped
    ],
)
def test_typographic_characters_are_downgraded(pasted: str, expected: str) -> None:
    assert sanitise_sms(pasted) == expected
    assert sms_length(sanitise_sms(pasted)).encoding == "GSM-7"


@pytest.mark.parametrize(
    "text", ["Croeso i\u2019r ŵyl", "Dydd Iau ŷ", "Zoë", "Привет", "Hi 😀"]
)
def test_characters_without_a_gsm_equivalent_are_kept_and_stay_ucs2(text: str) -> None:
    sanitised = sanitise_sms(text)
    for char in text:
        if char != "\u2019":
            assert char in sanitised
    assert sms_length(sanitised).encoding == "UCS-2"


def test_zero_width_joiner_in_emoji_sequence_is_kept() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert sanitise_sms(f"Hello {family}") == f"Hello {family}"


def test_welsh_apostrophe_is_downgraded_but_circumflex_kept() -> None:
    assert sanitise_sms("i\u2019r ŵyl") == "i'r ŵyl"


gsm_text = st.text(alphabet=st.sampled_from(sorted(GSM_CHARACTERS)))


@given(gsm_text)
def test_gsm_only_text_is_unchanged(text: str) -> None:
    assert sanitise_sms(text) == text


@given(st.text())
def test_sanitising_is_idempotent(text: str) -> None:
    once = sanitise_sms(text)
    assert sanitise_sms(once) == once


@given(st.text())
def test_sanitising_never_turns_gsm_into_ucs2(text: str) -> None:
    before = sms_length(text)
    after = sms_length(sanitise_sms(text))
    # An ellipsis becomes three dots, so characters may grow within GSM-7,
    # but a message never moves from GSM-7 to UCS-2.
    if before.encoding == "GSM-7":
        assert after.encoding == "GSM-7"
