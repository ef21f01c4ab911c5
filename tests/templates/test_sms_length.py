"""SMS encoding, character counts and fragment boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify.templates import (
    GSM_BASIC,
    GSM_CHARACTERS,
    GSM_EXTENSION,
    SMS_CHAR_COUNT_LIMIT,
    SmsEncoding,
    SmsLength,
    SmsTooLong,
    check_sms_length,
    fragment_count,
    sms_length,
)


def test_gsm_tables_have_the_standard_sizes() -> None:
    # 128 basic positions minus ESC, which is not a character; 9 printable
    # extension characters plus form feed.
    assert len(GSM_BASIC) == 127
    assert GSM_EXTENSION == frozenset("^{}\\[~]|€\f")
    assert not GSM_BASIC & GSM_EXTENSION


def test_empty_text_is_zero_fragments() -> None:
    assert sms_length("") == SmsLength(characters=0, fragments=0, encoding="GSM-7")


@pytest.mark.parametrize(
    ("characters", "fragments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4), (918, 6), (919, 7)],
)
def test_gsm_fragment_boundaries(characters: int, fragments: int) -> None:
    assert sms_length("a" * characters) == SmsLength(characters, fragments, "GSM-7")


@pytest.mark.parametrize(
    ("characters", "fragments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_fragment_boundaries(characters: int, fragments: int) -> None:
    # ŵ (Welsh w-circumflex) is not GSM, so the message is UCS-2.
    assert sms_length("ŵ" * characters) == SmsLength(characters, fragments, "UCS-2")


def test_one_non_gsm_character_makes_the_whole_message_ucs2() -> None:
    length = sms_length("a" * 100 + "ŷ")
    assert length == SmsLength(characters=101, fragments=2, encoding="UCS-2")


@pytest.mark.parametrize("char", sorted(GSM_EXTENSION))
def test_extension_characters_count_as_two_septets(char: str) -> None:
    assert sms_length(char) == SmsLength(characters=2, fragments=1, encoding="GSM-7")


def test_extension_characters_push_a_message_into_a_second_fragment() -> None:
    assert sms_length("a" * 158 + "€").fragments == 1
    assert sms_length("a" * 159 + "€") == SmsLength(characters=161, fragments=2, encoding="GSM-7")


def test_euro_sign_is_gsm_not_unicode() -> None:
    assert sms_length("Pay €5").encoding == "GSM-7"
    assert sms_length("Pay €5").characters == 7


def test_gsm_accented_and_greek_letters_stay_gsm() -> None:
    assert sms_length("Ça coûte").encoding == "UCS-2"  # û is not GSM
    assert sms_length("Çé ÄÖÑÜ äöñüà ΔΩ £¥ §¿¡").encoding == "GSM-7"


def test_emoji_counts_two_utf16_units() -> None:
    assert sms_length("😀") == SmsLength(characters=2, fragments=1, encoding="UCS-2")
    assert sms_length("😀" * 35).fragments == 1
    assert sms_length("😀" * 35 + "a").fragments == 2


def test_fragment_count_zero_and_negative_are_zero() -> None:
    assert fragment_count(0, "GSM-7") == 0
    assert fragment_count(0, "UCS-2") == 0
    assert fragment_count(-1, "GSM-7") == 0


def test_check_sms_length_allows_exactly_the_limit() -> None:
    assert check_sms_length("a" * SMS_CHAR_COUNT_LIMIT).fragments == 6


def test_check_sms_length_rejects_over_the_limit_with_govuk_message() -> None:
    with pytest.raises(SmsTooLong) as caught:
        check_sms_length("a" * 1000)
    assert caught.value.length == 1000
    assert caught.value.limit == 918
    assert str(caught.value) == (
        "Text messages cannot be longer than 918 characters. "
        "Your message is 1000 characters long."
    )


def test_check_sms_length_counts_extension_characters_double() -> None:
    with pytest.raises(SmsTooLong) as caught:
        check_sms_length("{" * 460)
    assert caught.value.length == 920


gsm_text = st.text(alphabet=st.sampled_from(sorted(GSM_CHARACTERS)))


@given(st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=3000))
def test_fragments_never_decrease_as_length_grows(a: int, b: int) -> None:
    short, long = sorted((a, b))
    encodings: tuple[SmsEncoding, ...] = ("GSM-7", "UCS-2")
    for encoding in encodings:
        assert fragment_count(short, encoding) <= fragment_count(long, encoding)


@given(gsm_text, gsm_text)
def test_appending_text_never_reduces_fragments(head: str, tail: str) -> None:
    assert sms_length(head).fragments <= sms_length(head + tail).fragments


@given(gsm_text)
def test_gsm_septets_are_length_plus_extension_characters(text: str) -> None:
    length = sms_length(text)
    assert length.encoding == "GSM-7"
    assert length.characters == len(text) + sum(ch in GSM_EXTENSION for ch in text)


@given(st.text())
def test_fragments_hold_at_most_the_fragment_capacity(text: str) -> None:
    length = sms_length(text)
    single, multi = (160, 153) if length.encoding == "GSM-7" else (70, 67)
    if length.fragments == 1:
        assert 0 < length.characters <= single
    elif length.fragments > 1:
        assert (length.fragments - 1) * multi < length.characters <= length.fragments * multi
    else:
        assert text == ""
