"""Placeholder parsing, key matching and substitution."""

from __future__ import annotations

import pytest

from notify.templates import (
    MissingPersonalisation,
    format_list,
    is_yes,
    normalise_key,
    placeholders,
    substitute,
)


@pytest.mark.parametrize(
    "header",
    ["first name", "First Name", "FIRST_NAME", "first-name", "firstname", " First\u00a0name\t"],
)
def test_normalise_key_treats_case_spaces_underscores_and_hyphens_alike(header: str) -> None:
    assert normalise_key(header) == "firstname"


def test_normalise_key_keeps_other_punctuation_significant() -> None:
    assert normalise_key("ref.no") != normalise_key("refno")


def test_placeholders_in_order_of_first_appearance_without_repeats() -> None:
    text = "Dear ((name)), your ((ref)) is ready. Thanks ((name))."
    assert placeholders(text) == ["name", "ref"]


def test_placeholders_trims_whitespace_inside_brackets() -> None:
    assert placeholders("Hi (( first name )) and ((\tage\t))") == ["first name", "age"]


def test_placeholders_that_match_by_normalised_key_count_once_first_spelling_wins() -> None:
    assert placeholders("((First name)) ((first_name)) ((FIRSTNAME))") == ["First name"]


def test_conditional_placeholder_contributes_its_name() -> None:
    text = "((has_appointment??Bring your letter.)) See ((name))."
    assert placeholders(text) == ["has_appointment", "name"]


def test_conditional_and_plain_use_of_same_name_count_once() -> None:
    assert placeholders("((paid??Thanks.)) Paid: ((paid))") == ["paid"]


@pytest.mark.parametrize(
    "text",
    [
        "no placeholders",
        "(single)",
        "((unclosed",
        "unopened))",
        "((a(b)c))",
        "(( ))",
        "((??just text))",
        "(())",
    ],
)
def test_malformed_or_empty_brackets_are_literal_text(text: str) -> None:
    assert placeholders(text) == []
    assert substitute(text, {}) == text


def test_triple_brackets_are_a_placeholder_inside_literal_brackets() -> None:
    assert placeholders("(((name)))") == ["name"]
    assert substitute("(((name)))", {"name": "Ada"}) == "(Ada)"


def test_substitute_matches_keys_insensitively() -> None:
    text = "Hello ((First Name)), ref ((reference-number))"
    result = substitute(text, {"first_name": "Ada", "REFERENCE NUMBER": 42})
    assert result == "Hello Ada, ref 42"


def test_substitute_reports_every_missing_name_once_in_order() -> None:
    text = "((a)) ((b)) ((a)) ((c??shown)) ((d))"
    with pytest.raises(MissingPersonalisation) as caught:
        substitute(text, {"b": "x"})
    assert caught.value.names == ["a", "c", "d"]
    assert "a, c, d" in str(caught.value)


def test_missing_personalisation_message_does_not_contain_values() -> None:
    with pytest.raises(MissingPersonalisation) as caught:
        substitute("((name)) ((phone))", {"name": "07700900123-secret"})
    assert "secret" not in str(caught.value)
    assert caught.value.names == ["phone"]


@pytest.mark.parametrize("value", [None, "", "   ", [], [None, " "]])
def test_null_or_blank_value_is_missing_like_a_blank_cell(value: object) -> None:
    """"Hello , ..." is never meant: a blank value for a plain placeholder is missing, as in a spreadsheet."""
    with pytest.raises(MissingPersonalisation) as caught:
        substitute("Hello ((name)), see you ((day)).", {"name": value, "day": "Friday"})
    assert caught.value.names == ["name"]


def test_value_that_looks_like_a_placeholder_is_not_expanded() -> None:
    assert substitute("((a))", {"a": "((b))", "b": "no"}) == "((b))"


def test_value_with_backslashes_is_inserted_literally() -> None:
    assert substitute("((a))", {"a": r"C:\new\1"}) == r"C:\new\1"


@pytest.mark.parametrize("value", ["yes", "Yes", "TRUE", "true", "1", 1, True, " y ", "show"])
def test_conditional_shown_for_yes_values(value: object) -> None:
    text = "Hi.((urgent?? Act now!)) Bye."
    assert substitute(text, {"urgent": value}) == "Hi. Act now! Bye."


@pytest.mark.parametrize("value", ["no", "false", "0", 0, False, "", None, "maybe"])
def test_conditional_removed_for_other_values(value: object) -> None:
    text = "Hi.((urgent?? Act now!)) Bye."
    assert substitute(text, {"urgent": value}) == "Hi. Bye."


def test_conditional_text_may_contain_question_marks() -> None:
    assert substitute("((q??Why?? Because.))", {"q": "yes"}) == "Why?? Because."


def test_is_yes_rejects_none() -> None:
    assert is_yes(None) is False


def test_list_values_inline_by_default() -> None:
    assert substitute("Bring ((items)).", {"items": ["a", "b", "c"]}) == "Bring a, b and c."


def test_list_values_as_bullets() -> None:
    result = substitute("Bring:((items))", {"items": ["a", "b"]}, list_style="bullets")
    assert result == "Bring:\n\n* a\n* b"


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], ""),
        (["a"], "a"),
        (["a", "b"], "a and b"),
        ([" a ", None, "", 3, "c"], "a, 3 and c"),
    ],
)
def test_format_list_inline(items: list[object], expected: str) -> None:
    assert format_list(items, "inline") == expected


def test_format_list_bullets_of_nothing_is_empty() -> None:
    assert format_list([None, " "], "bullets") == ""
