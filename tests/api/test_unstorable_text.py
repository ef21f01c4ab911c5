"""Text that cannot be stored (a lone UTF-16 surrogate, NUL) is refused at the edge, field by field.

JSON ``"\\ud800"`` decodes to a string no UTF-8 file or PostgreSQL column can hold. It used to reach
the shared group-commit batch and fail every request in it (503 for other services too), or give
a 500 on the SMS length count, the bulk endpoint and template names.  Bodies are sent as raw JSON
text here, because that is what a hostile or buggy client sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from notify.catalogue.templates import InvalidTemplate, create_template
from notify.cli import app as cli_app
from notify.db.models import TemplateType
from notify.runtime import Runtime
from tests.support.accounts import Account, create_account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status

EMAIL = "resident.kowalski@example.gov"
NUMBER = "+12025550171"
SURROGATE_MESSAGE = "must be valid Unicode text (it contains an unpaired UTF-16 surrogate, \\ud800-\\udfff)"
NUL_MESSAGE = "must not contain NUL characters"


async def _post_raw(client: httpx.AsyncClient, account: Account, path: str, body: dict[str, Any]) -> httpx.Response:
    """POST ``body`` as JSON text, escapes and all (json.dumps writes a lone surrogate as \\ud800)."""
    return await client.post(
        path, content=json.dumps(body), headers={**account.headers(), "content-type": "application/json"}
    )


def _email(account: Account, **extra: Any) -> dict[str, Any]:
    return {"email_address": EMAIL, "template_id": str(account.email_template_id),
            "personalisation": {"name": "Kowalski", "case": "4471-B"}, **extra}


def _sms(account: Account, **extra: Any) -> dict[str, Any]:
    return {"phone_number": NUMBER, "template_id": str(account.sms_template_id),
            "personalisation": {"name": "Kowalski", "day": "Tuesday"}, **extra}


CASES: list[tuple[str, str, Callable[[Account], dict[str, Any]], str]] = [
    ("email personalisation", "/v2/notifications/email",
     lambda a: _email(a, personalisation={"name": "\ud800", "case": "4471-B"}), "personalisation.name"),
    ("sms personalisation", "/v2/notifications/sms",
     lambda a: _sms(a, personalisation={"name": "Kowal\udfffski", "day": "Tuesday"}), "personalisation.name"),
    ("sms list item", "/v2/notifications/sms",
     lambda a: _sms(a, personalisation={"name": ["Kowalski", "\ud83d"], "day": "Tuesday"}), "personalisation.name[1]"),
    ("personalisation key", "/v2/notifications/email",
     lambda a: _email(a, personalisation={"name": "Kowalski", "case": "4471-B", "\udc00": "x"}),
     "a key of personalisation"),
    ("email reference", "/v2/notifications/email", lambda a: _email(a, reference="ref-\ud800"), "reference"),
    ("sms reference", "/v2/notifications/sms", lambda a: _sms(a, reference="\udbff"), "reference"),
    ("phone number", "/v2/notifications/sms", lambda a: {**_sms(a), "phone_number": "+1202555\ud800"},
     "phone_number"),
    ("bulk rows", "/v2/notifications/bulk",
     lambda a: {"name": "bulk.csv", "template_id": str(a.sms_template_id),
                "rows": [["phone number", "name", "day"], [NUMBER, "Kowalski", "Tues\ud800"]]}, "rows[1][2]"),
    ("bulk csv", "/v2/notifications/bulk",
     lambda a: {"name": "bulk.csv", "template_id": str(a.sms_template_id),
                "csv": f"phone number,name,day\n{NUMBER},Kowalski,\ud800\n"}, "csv"),
    ("bulk name", "/v2/notifications/bulk",
     lambda a: {"name": "\ud800.csv", "template_id": str(a.sms_template_id),
                "rows": [["phone number", "name", "day"], [NUMBER, "Kowalski", "Tuesday"]]}, "name"),
]


@pytest.mark.parametrize(("path", "build", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_a_lone_surrogate_in_any_string_field_is_a_400_naming_it(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit,
    path: str, build: Callable[[Account], dict[str, Any]], field: str,
) -> None:
    pii_audit.track(EMAIL, NUMBER)
    pii_audit.track_personalisation("Kowalski", "4471-B", "Tuesday")
    response = await _post_raw(client, account, path, build(account))
    assert response.status_code == 400, response.text
    assert response.json() == {
        "status_code": 400, "errors": [{"error": "ValidationError", "message": f"{field} {SURROGATE_MESSAGE}"}]
    }


@pytest.mark.parametrize(
    ("path", "build", "field"),
    [
        ("/v2/notifications/sms", lambda a: _sms(a, personalisation={"name": "Kowal\x00ski", "day": "Tuesday"}),
         "personalisation.name"),
        ("/v2/notifications/email", lambda a: _email(a, reference="ref\x00"), "reference"),
        ("/v2/notifications/bulk",
         lambda a: {"name": "bulk.csv", "template_id": str(a.sms_template_id),
                    "rows": [["phone number", "name", "day"], [NUMBER, "Kowal\x00ski", "Tuesday"]]}, "rows[1][1]"),
    ],
    ids=["personalisation", "reference", "bulk rows"],
)
async def test_nul_in_personalisation_reference_or_cells_is_a_400_naming_it(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit,
    path: str, build: Callable[[Account], dict[str, Any]], field: str,
) -> None:
    pii_audit.track(EMAIL, NUMBER)
    pii_audit.track_personalisation("Kowalski", "4471-B", "Tuesday")
    response = await _post_raw(client, account, path, build(account))
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [{"error": "ValidationError", "message": f"{field} {NUL_MESSAGE}"}]


async def test_preview_refuses_a_lone_surrogate(client: httpx.AsyncClient, account: Account) -> None:
    response = await _post_raw(
        client, account, f"/v2/template/{account.sms_template_id}/preview",
        {"personalisation": {"name": "\ud800", "day": "Tuesday"}},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == f"personalisation.name {SURROGATE_MESSAGE}"


async def test_a_bad_request_in_a_concurrent_batch_fails_only_itself(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    """[good, bad, good] across three services: was [503, 503, 503]; now only the bad one fails, with a 400."""
    pii_audit.track(EMAIL)
    pii_audit.track_personalisation("Kowalski", "4471-B")
    accounts = [await create_account(runtime) for _ in range(3)]
    for _ in range(3):
        responses = await asyncio.gather(
            _post_raw(client, accounts[0], "/v2/notifications/email", _email(accounts[0])),
            _post_raw(client, accounts[1], "/v2/notifications/email",
                      _email(accounts[1], personalisation={"name": "\ud800", "case": "4471-B"})),
            _post_raw(client, accounts[1], "/v2/notifications/email", _email(accounts[1], reference="\udfff")),
            _post_raw(client, accounts[2], "/v2/notifications/email", _email(accounts[2])),
            _post_raw(client, accounts[1], "/v2/notifications/email", _email(accounts[1])),
        )
        assert [r.status_code for r in responses] == [201, 400, 400, 201, 201]
        for account, response in zip([accounts[0], accounts[2], accounts[1]], [responses[0], *responses[3:]]):
            await wait_for_status(client, account, response.json()["id"], "delivered")


async def test_a_template_name_with_a_lone_surrogate_is_refused(runtime: Runtime, account: Account) -> None:
    async with runtime.engine.begin() as conn:
        with pytest.raises(InvalidTemplate, match="the template name must be valid Unicode text"):
            await create_template(conn, account.service_id, name="Rem\udcffinder", template_type=TemplateType.sms,
                                  content="Hello ((name))")


def test_cli_template_create_with_undecodable_name_bytes_says_what_is_wrong(env: dict[str, str]) -> None:
    """Undecodable bytes in argv reach Python as lone surrogates; the CLI must refuse them, not crash."""
    runner = CliRunner()
    created = runner.invoke(cli_app, ["service", "create", "--name", "Surrogates", "--json"], env=env)
    assert created.exit_code == 0, created.output
    service_id = json.loads(created.output)["id"]
    result = runner.invoke(
        cli_app,
        ["template", "create", "--service", service_id, "--type", "sms", "--name", "Bad \udcff name",
         "--content", "Hello"],
        env=env,
    )
    assert result.exit_code != 0
    assert "the template name must be valid Unicode text" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
