"""Rendering SMS and email from a template and one row of personalisation."""

from __future__ import annotations

import pytest

from notify.templates import (
    EmptyMessage,
    MissingPersonalisation,
    RenderedEmail,
    SmsLength,
    SmsTooLong,
    render_email,
    render_sms,
    template_placeholders,
)


def test_render_sms_fills_sanitises_and_measures() -> None:
    rendered = render_sms(
        "Hi ((Name)), your appointment is ((when)).",
        {"name": "Ada", "WHEN": "Monday \u2013 9am"},
    )
    assert rendered.body == "Hi Ada, your appointment is Monday - 9am."
    assert rendered.length == SmsLength(characters=41, fragments=1, encoding="GSM-7")


def test_render_sms_writes_lists_inline() -> None:
    rendered = render_sms("Bring ((docs)).", {"docs": ["passport", "bill", "letter"]})
    assert rendered.body == "Bring passport, bill and letter."


def test_render_sms_normalises_line_endings_and_trims() -> None:
    rendered = render_sms("  Line one\r\nLine two\n ", {})
    assert rendered.body == "Line one\nLine two"
    assert rendered.length.characters == len("Line one\nLine two")


def test_render_sms_conditional_switched_off() -> None:
    rendered = render_sms("Hello.((late?? You are late.))", {"late": "no"})
    assert rendered.body == "Hello."


def test_render_sms_keeps_welsh_and_counts_ucs2() -> None:
    rendered = render_sms("Croeso i\u2019r ((event))", {"event": "ŵyl"})
    assert rendered.body == "Croeso i'r ŵyl"
    assert rendered.length.encoding == "UCS-2"


def test_render_sms_missing_personalisation() -> None:
    with pytest.raises(MissingPersonalisation) as caught:
        render_sms("((a)) ((b))", {})
    assert caught.value.names == ["a", "b"]


def test_render_sms_too_long_counts_the_filled_in_text() -> None:
    with pytest.raises(SmsTooLong) as caught:
        render_sms("Hi ((name))", {"name": "x" * 916})
    assert caught.value.length == 919


def test_render_sms_custom_limit() -> None:
    with pytest.raises(SmsTooLong) as caught:
        render_sms("x" * 161, {}, limit=160)
    assert (caught.value.length, caught.value.limit) == (161, 160)


def test_render_sms_empty_after_conditionals_is_rejected() -> None:
    with pytest.raises(EmptyMessage):
        render_sms("((show?? Shown)) ((also?? Also))", {"show": "no", "also": " "})


def test_render_email_subject_and_body() -> None:
    rendered = render_email(
        "Your ((service)) reference",
        "Dear ((name)),\n\nYou need:((items))\n\nThanks",
        {"service": "passport", "name": "Ada", "items": ["photo", "form"]},
    )
    assert rendered == RenderedEmail(
        subject="Your passport reference",
        body="Dear Ada,\n\nYou need:\n\n* photo\n* form\n\nThanks",
    )


def test_render_email_subject_is_one_line() -> None:
    rendered = render_email("Re: ((topic))", "Body", {"topic": "a\r\nb\n\tc  d"})
    assert rendered.subject == "Re: a b c d"


def test_render_email_subject_lists_are_inline() -> None:
    rendered = render_email("About ((x))", "Body", {"x": ["a", "b"]})
    assert rendered.subject == "About a and b"


def test_render_email_keeps_body_as_written() -> None:
    body = "# Heading\r\n\r\n^ Inset text with curly \u2018quotes\u2019\n"
    assert render_email("S", body, {}).body == body


def test_render_email_reports_missing_from_subject_and_body_together() -> None:
    with pytest.raises(MissingPersonalisation) as caught:
        render_email("((ref)) ((name))", "Dear ((Name)), ((date))", {})
    assert caught.value.names == ["ref", "name", "date"]


def test_render_email_empty_body_is_rejected() -> None:
    with pytest.raises(EmptyMessage):
        render_email("Subject", "((show??Some text))", {"show": "no"})


def test_template_placeholders_subject_first_without_repeats() -> None:
    assert template_placeholders("Dear ((name)), ((date))", subject="((ref)) for ((Name))") == [
        "ref",
        "Name",
        "date",
    ]


def test_template_placeholders_without_subject() -> None:
    assert template_placeholders("((a))((b??x))") == ["a", "b"]
