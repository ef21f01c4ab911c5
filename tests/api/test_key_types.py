"""Test, team and live keys; trial mode; the simulated provider's well-known outcomes."""

from __future__ import annotations

import httpx
import pytest

from notify.catalogue import services
from notify.db.models import KeyType, TemplateType
from notify.runtime import Runtime
from notify.secrets import SecretBox
from notify.sending.providers.simulated import SimulatedProvider
from notify.sending.submit import TEAM_KEY_MESSAGE, TRIAL_MODE_MESSAGE
from tests.support.accounts import TEAM_EMAIL, TEAM_PHONE, Account, create_account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sending import EMAIL_PERSONALISATION, SMS_PERSONALISATION



async def _sms(client: httpx.AsyncClient, account: Account, number: str, key: KeyType) -> httpx.Response:
    return await client.post(
        "/v2/notifications/sms",
        json={"phone_number": number, "template_id": str(account.sms_template_id), "personalisation": SMS_PERSONALISATION},
        headers=account.headers(key),
    )


@pytest.mark.parametrize(
    ("number", "status"),
    [
        ("+14254147755", "delivered"),
        ("+14254147222", "permanent-failure"),
        ("+14254147111", "temporary-failure"),
        ("+14254147333", "technical-failure"),
    ],
)
async def test_test_key_never_reaches_a_provider_but_gets_a_realistic_status(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, pii_audit: PiiAudit,
    number: str, status: str,
) -> None:
    pii_audit.track(number)
    response = await _sms(client, account, number, KeyType.test)
    assert response.status_code == 201, response.text
    got = await wait_for_status(client, account, response.json()["id"], status)
    assert got["phone_number"] == number
    assert list(provider.sent) == []


@pytest.mark.parametrize(
    ("number", "status"),
    [("+14254147222", "permanent-failure"), ("+14254147111", "temporary-failure"), ("+12025550143", "delivered")],
)
async def test_simulated_provider_outcomes_with_a_live_key(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, pii_audit: PiiAudit,
    number: str, status: str,
) -> None:
    pii_audit.track(number)
    response = await _sms(client, account, number, KeyType.normal)
    assert response.status_code == 201, response.text
    await wait_for_status(client, account, response.json()["id"], status)
    assert [m.to for m in provider.sent] == [number]


async def test_failed_filter_lists_every_kind_of_failure(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    numbers = {"+14254147222": "permanent-failure", "+14254147111": "temporary-failure",
               "+14254147333": "technical-failure", "+12025550143": "delivered"}
    pii_audit.track(*numbers)
    ids = {}
    for number, status in numbers.items():
        ids[(await _sms(client, account, number, KeyType.normal)).json()["id"]] = status
    for notification_id, status in ids.items():
        await wait_for_status(client, account, notification_id, status)
    listed = (await client.get("/v2/notifications?status=failed", headers=account.headers())).json()
    assert sorted(n["status"] for n in listed["notifications"]) == sorted(
        ["permanent-failure", "temporary-failure", "technical-failure"]
    )


async def test_team_key_sends_only_to_the_team(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    # Team contacts are staff, not the public, but are stored only encrypted: the audit checks them too.
    pii_audit.track("+12025550143", TEAM_PHONE, TEAM_EMAIL)
    refused = await _sms(client, account, "+12025550143", KeyType.team)
    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"error": "BadRequestError", "message": TEAM_KEY_MESSAGE}]
    assert (await _sms(client, account, "(202) 555-0100", KeyType.team)).status_code == 201
    email = await client.post(
        "/v2/notifications/email",
        json={"email_address": TEAM_EMAIL.upper(), "template_id": str(account.email_template_id),
              "personalisation": EMAIL_PERSONALISATION},
        headers=account.headers(KeyType.team),
    )
    assert email.status_code == 201, email.text


async def test_trial_mode_service(client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit) -> None:
    trial = await create_account(runtime, restricted=True)
    pii_audit.track("+12025550143", TEAM_PHONE, TEAM_EMAIL)
    refused = await _sms(client, trial, "+12025550143", KeyType.normal)
    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"error": "BadRequestError", "message": TRIAL_MODE_MESSAGE}]
    assert (await _sms(client, trial, TEAM_PHONE, KeyType.normal)).status_code == 201
    # Test keys may send anywhere: nothing is delivered for real.
    assert (await _sms(client, trial, "+12025550143", KeyType.test)).status_code == 201


async def test_international_numbers_need_the_permission(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    pii_audit.track("+447700900123")
    domestic_only = await create_account(runtime)
    refused = await _sms(client, domestic_only, "+447700900123", KeyType.normal)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["error"] == "ValidationError"
    international = await create_account(runtime, international_sms=True)
    accepted = await _sms(client, international, "+447700900123", KeyType.normal)
    assert accepted.status_code == 201, accepted.text
    # Sent abroad: like GOV.UK Notify, 'sent' (international), not 'delivered'.
    got = await wait_for_status(client, international, accepted.json()["id"], "sent")
    assert got["phone_number"] == "+447700900123"


async def test_the_team_list_is_stored_encrypted_and_found_by_its_keyed_digest(
    runtime: Runtime, account: Account, pii_audit: PiiAudit
) -> None:
    pii_audit.track(TEAM_PHONE, TEAM_EMAIL)
    async with runtime.engine.connect() as conn:
        assert await services.team_members(conn, runtime.secrets, account.service_id) == [
            (TemplateType.email, TEAM_EMAIL), (TemplateType.sms, TEAM_PHONE)
        ]
        assert await services.is_team_member(conn, runtime.secrets, account.service_id, TemplateType.email,
                                             TEAM_EMAIL.upper())
        assert not await services.is_team_member(conn, runtime.secrets, account.service_id, TemplateType.sms,
                                                 "+12025550143")
        # Another key finds nothing: the digest is keyed, so it cannot be recomputed without NOTIFY_SECRET_KEY.
        other = SecretBox("another-secret-key-that-is-long-enough-000000")
        assert not await services.is_team_member(conn, other, account.service_id, TemplateType.sms, TEAM_PHONE)
