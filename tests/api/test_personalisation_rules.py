"""Personalisation values: what renders, what counts as missing, what is refused, and the size limits.

Used to be: ``null`` rendered "Hello , ...", an object rendered as a Python repr, ``true`` as
"True", and 10,000 keys or a 5 MB value were accepted and then broke the stored batch for good.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from notify.config import Settings
from notify.sending.providers.simulated import SimulatedProvider
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status

NUMBER = "+12025550181"
EMAIL = "resident.nakamura@example.gov"


async def _sms(client: httpx.AsyncClient, account: Account, personalisation: Any) -> httpx.Response:
    return await client.post(
        "/v2/notifications/sms",
        json={"phone_number": NUMBER, "template_id": str(account.sms_template_id), "personalisation": personalisation},
        headers=account.headers(),
    )


def _error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status_code"] == 400 and len(body["errors"]) == 1
    return str(body["errors"][0]["message"])


@pytest.mark.parametrize("empty", [None, "", "   ", []], ids=["null", "empty", "blank", "empty list"])
async def test_null_or_empty_values_are_missing_placeholders(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit, empty: Any
) -> None:
    pii_audit.track(NUMBER)
    response = await _sms(client, account, {"name": empty, "day": "Saturday"})
    assert response.json()["errors"] == [{"error": "BadRequestError", "message": "Missing personalisation: name"}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"first": "Nakamura"}, "personalisation.name must be text, a number, true, false or a list; "
                                "objects are not allowed"),
        ([["Nakamura"]], "personalisation.name must be a list of text or numbers; "
                         "lists inside lists and objects are not allowed"),
        ([{"a": 1}], "personalisation.name must be a list of text or numbers; "
                     "lists inside lists and objects are not allowed"),
    ],
    ids=["object", "nested list", "object in a list"],
)
async def test_objects_and_nested_lists_are_refused(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit, value: Any, message: str
) -> None:
    pii_audit.track(NUMBER)
    response = await _sms(client, account, {"name": value, "day": "Saturday"})
    assert _error(response) == message


async def test_non_finite_numbers_are_refused(client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit) -> None:
    pii_audit.track(NUMBER)
    body = (
        '{"phone_number": "%s", "template_id": "%s", "personalisation": {"name": NaN, "day": "Saturday"}}'
        % (NUMBER, account.sms_template_id)
    )
    response = await client.post(
        "/v2/notifications/sms", content=body, headers={**account.headers(), "content-type": "application/json"}
    )
    assert _error(response) == "personalisation.name must be a finite number"


async def test_numbers_and_booleans_render_as_their_json_text(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, pii_audit: PiiAudit
) -> None:
    pii_audit.track(NUMBER)
    response = await _sms(client, account, {"name": True, "day": 1.5e3})
    assert response.status_code == 201, response.text
    assert response.json()["content"]["body"] == "Hi true, your appointment is on 1500.0."
    delivered = await wait_for_status(client, account, response.json()["id"], "delivered")
    assert delivered["body"] == "Hi true, your appointment is on 1500.0."
    assert [m.body for m in provider.sent] == ["Hi true, your appointment is on 1500.0."]


async def test_a_list_of_text_is_kept_as_govuk_notify_documents(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    pii_audit.track(EMAIL)
    pii_audit.track_personalisation("passport", "utility bill", "Nakamura")
    response = await client.post(
        "/v2/notifications/email",
        json={"email_address": EMAIL, "template_id": str(account.email_template_id),
              "personalisation": {"name": ["passport", "utility bill"], "case": "Nakamura"}},
        headers=account.headers(),
    )
    assert response.status_code == 201, response.text
    assert "* passport\n* utility bill" in response.json()["content"]["body"]


async def test_too_many_keys_is_refused_naming_the_limit(
    client: httpx.AsyncClient, account: Account, settings: Settings, pii_audit: PiiAudit
) -> None:
    pii_audit.track(NUMBER)
    limit = settings.personalisation_max_keys
    personalisation = {"name": "Nakamura", "day": "Saturday"} | {f"extra{i}": "x" for i in range(limit - 1)}
    assert _error(await _sms(client, account, personalisation)) == (
        f"personalisation has {limit + 1} keys; the limit is {limit}"
    )
    del personalisation["extra0"]
    assert (await _sms(client, account, personalisation)).status_code == 201


async def test_a_value_longer_than_the_limit_is_refused_even_if_unused(
    client: httpx.AsyncClient, account: Account, settings: Settings, pii_audit: PiiAudit
) -> None:
    pii_audit.track(NUMBER)
    limit = settings.personalisation_max_value_chars
    response = await _sms(client, account, {"name": "Nakamura", "day": "Saturday", "notes": "n" * (limit + 1)})
    assert _error(response) == (
        f"personalisation.notes is {limit + 1} characters long; the limit for one value is {limit}"
    )


async def test_the_whole_object_has_a_size_limit(
    client: httpx.AsyncClient, account: Account, settings: Settings, pii_audit: PiiAudit
) -> None:
    pii_audit.track(NUMBER)
    value = "é" * (settings.personalisation_max_value_chars - 1)  # two bytes each in UTF-8
    personalisation = {"name": "Nakamura", "day": "Saturday", "a": value, "b": value}
    message = _error(await _sms(client, account, personalisation))
    assert message.startswith("personalisation is ") and message.endswith(
        f" bytes as UTF-8 JSON; the limit is {settings.personalisation_max_bytes} bytes"
    )


async def test_within_the_limits_a_large_personalisation_is_sent_and_read_back(
    client: httpx.AsyncClient, account: Account, settings: Settings, pii_audit: PiiAudit
) -> None:
    """Just under every limit, the stored batch stays readable: the message is delivered and listed."""
    pii_audit.track(NUMBER)
    pii_audit.track_personalisation("Nakamura", "Saturday")
    fill = "z" * (settings.personalisation_max_value_chars - 100)
    personalisation = {"name": "Nakamura", "day": "Saturday", "a": fill, "b": fill, "c": fill}
    response = await _sms(client, account, personalisation)
    assert response.status_code == 201, response.text
    await wait_for_status(client, account, response.json()["id"], "delivered")
    listed = await client.get("/v2/notifications", headers=account.headers())
    assert listed.status_code == 200
    assert [n["id"] for n in listed.json()["notifications"]] == [response.json()["id"]]


async def test_preview_follows_the_same_rules(client: httpx.AsyncClient, account: Account) -> None:
    preview = f"/v2/template/{account.sms_template_id}/preview"
    missing = await client.post(preview, json={"personalisation": {"name": None, "day": "x"}}, headers=account.headers())
    assert missing.json()["errors"] == [{"error": "BadRequestError", "message": "Missing personalisation: name"}]
    shown = await client.post(preview, json={"personalisation": {"name": False, "day": 7}}, headers=account.headers())
    assert shown.json()["body"] == "Hi false, your appointment is on 7."
