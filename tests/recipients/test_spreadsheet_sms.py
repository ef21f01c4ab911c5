"""SMS pricing during validation must match render_sms exactly, row by row.

The validator splits the template once and prices each row without re-parsing it (render_sms is
slower than the whole per-row budget); these tests compare it with render_sms on generated
templates and values, through the public validator.
"""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notify.db.models import TemplateType
from notify.recipients.spreadsheet import FileRejected, SpreadsheetValidator
from notify.recipients.spreadsheet_read import _SANITISE_KEEPS_GSM
from notify.templates import EmptyMessage, SmsTooLong, normalise_key, render_sms, template_placeholders

TRICKY = ["{", "}", "{0}", "^", "€", "[~]", "\\", "|", "\r\n", "\r", "\n", "\t", " ", "\u00a0", "\u2019", "\u201c", "\u2013", "\u2026",
          "\u200d", "\u200b", "👍", "👨\u200d👩", "é", "ŵ", "((a))", "((", "))", "\ue000", "\x1b", "\f"]
literal = st.lists(st.one_of(st.sampled_from(TRICKY), st.text("abc XYZ.,!?'\"-", max_size=8)), max_size=6).map("".join)
placeholder = st.sampled_from(["((a))", "((A))", "(( b ))", "((b))", "((a??shown))", "((b?? {x} ))"])
templates = st.lists(st.one_of(literal, placeholder), min_size=1, max_size=8).map("".join)
values = st.one_of(
    st.lists(st.one_of(st.sampled_from(TRICKY), st.text("abcdé xyz", max_size=10)), min_size=1, max_size=6).map("".join),
    st.sampled_from(["yes", "no", "Y", "true", "x" * 161, "ü" * 71, "x" * 918, "x" * 919, "€" * 460]),
).filter(lambda value: value.strip() and "\x00" not in value)


def test_the_plain_gsm_shortcut_is_enabled() -> None:
    assert _SANITISE_KEEPS_GSM


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(content=templates, rows=st.lists(st.tuples(values, values), min_size=1, max_size=5))
def test_billable_units_and_length_errors_match_render_sms(content: str, rows: list[tuple[str, str]]) -> None:
    # Literal brackets can form extra placeholders (say "((" + "{x}" + "))"); give them columns too.
    names = [*{normalise_key(n): n for n in reversed(["a", "b", *template_placeholders(content)])}.values()][::-1]
    cells = [[row[i % 2] for i in range(len(names))] for row in rows]
    expected_units = 0
    expected_errors: list[tuple[int, str]] = []
    for number, row in enumerate(cells):
        try:
            expected_units += render_sms(content, dict(zip(names, row))).length.fragments
        except SmsTooLong:
            expected_errors.append((number, "sms_too_long"))
        except EmptyMessage:
            expected_errors.append((number, "empty_message"))

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["phone number", *names])
    writer.writerows(["2025550143", *row] for row in cells)
    validator = SpreadsheetValidator(template_type=TemplateType.sms, template_content=content, template_subject=None)
    try:
        validator.feed(buffer.getvalue().encode("utf-8"))
        result = validator.finish()
    except FileRejected as exc:
        assert exc.kind == "row_errors"
        assert [(e.row_number, e.kind) for e in exc.errors] == expected_errors
        for error in exc.errors:
            for a, b in rows:
                assert a not in error.reason or len(a) < 3
        return
    assert expected_errors == []
    assert result.billable_units == expected_units
