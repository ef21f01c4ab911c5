"""Sending through the real AWS providers, end to end, against moto's server over HTTP.

A job or an API send goes in; moto (or the End User Messaging fake) must hold exactly the message
the recipient would get, under the MessageId Notify recorded as the provider reference.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from notify.catalogue.services import choose_providers
from notify.config import ProviderName, Settings
from notify.runtime import Runtime
from tests.fixtures.sms_v2_fake import SmsV2Fake
from tests.support.accounts import create_account
from tests.support.aws import (
    EMAIL_DOMAIN,
    aws_settings,
    moto_published_sms,
    moto_sent_emails,
    notification_rows,
    serving,
    verify_ses_domain,
)
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_for_job
from tests.support.pii_audit import PiiAudit
from tests.support.sending import EMAIL_PERSONALISATION, SMS_PERSONALISATION


async def recorded(runtime: Runtime, notification_id: str, timeout: float = 15.0) -> Any:
    """Wait until the worker has recorded the provider's answer for one notification."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with runtime.engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT status, provider, provider_reference, provider_response FROM notifications "
                         "WHERE id = :id"),
                    {"id": notification_id},
                )
            ).one_or_none()
        if row is not None and (row.provider_reference or row.status != "sending" and row.status != "created"):
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"notification {notification_id} was never handed to a provider")


async def send_sms(client: httpx.AsyncClient, headers: dict[str, str], template_id: uuid.UUID, to: str) -> str:
    response = await client.post(
        "/v2/notifications/sms",
        json={"phone_number": to, "template_id": str(template_id), "personalisation": SMS_PERSONALISATION},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_sms_from_a_job_and_the_api_goes_out_through_sns(
    settings: Settings, moto_s3_endpoint: str, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(3, start=7100)
    api_number = "+12025557199"
    pii_audit.track(*(r[0] for r in rows), api_number)
    async with serving(aws_settings(settings, moto_s3_endpoint)) as (client, runtime):
        account = await create_account(runtime)
        response = await upload(client, account, csv_bytes(rows))
        assert response.status_code == 201, response.text
        job_id = response.json()["data"]["id"]
        await wait_for_job(client, account, job_id)
        api_id = await send_sms(client, account.headers(), account.sms_template_id, api_number)
        api_row = await recorded(runtime, api_id)
        job_rows = await notification_rows(runtime, job_id)

        # Real providers report the outcome later, through receipts: until then it is 'sending'.
        shown = (await client.get(f"/v2/notifications/{api_id}", headers=account.headers())).json()
        assert shown["status"] == "sending"

    published = moto_published_sms()
    for number, row in enumerate(rows):
        sent = job_rows[number]
        assert (sent.status, sent.provider) == ("sending", "aws-sns")
        assert published[sent.provider_reference]["phone_number"] == f"+1202555{7100 + number:04d}"
        assert published[sent.provider_reference]["message"] == f"Hi {row[1]}, your appointment is on Monday."
    assert (api_row.status, api_row.provider) == ("sending", "aws-sns")
    assert published[api_row.provider_reference] == {
        "message_id": api_row.provider_reference,
        "phone_number": api_number,
        "message": "Hi Adaeze Marchetti, your appointment is on Friday 9th.",
    }


async def test_email_goes_out_through_ses(settings: Settings, moto_s3_endpoint: str, pii_audit: PiiAudit) -> None:
    address = "case.holder@example.org"
    pii_audit.track(address)
    verify_ses_domain(moto_s3_endpoint)
    configured = aws_settings(settings, moto_s3_endpoint, ses_configuration_set="notify-events")
    async with serving(configured) as (client, runtime):
        account = await create_account(runtime, name="Benefits Office")
        response = await client.post(
            "/v2/notifications/email",
            json={"email_address": address, "template_id": str(account.email_template_id),
                  "personalisation": EMAIL_PERSONALISATION},
            headers=account.headers(),
        )
        assert response.status_code == 201, response.text
        row = await recorded(runtime, response.json()["id"])

    assert (row.status, row.provider) == ("sending", "ses")
    email = moto_sent_emails()[row.provider_reference]
    assert email["destinations"] == {"ToAddresses": [address]}
    assert email["source"] == f"benefits.office@{EMAIL_DOMAIN}"
    assert email["subject"] == "Your case CASE-7731"
    assert email["body"] == "Dear Kimberley Ashdown,\n\nYour case CASE-7731 is ready."


async def test_a_service_can_send_through_end_user_messaging_while_others_use_sns(
    settings: Settings, moto_s3_endpoint: str, sms_v2_fake: SmsV2Fake, pii_audit: PiiAudit
) -> None:
    default_number, switched_number = "+12025557201", "+12025557202"
    pii_audit.track(default_number, switched_number)
    configured = aws_settings(
        settings,
        moto_s3_endpoint,
        sms_provider_choices=[ProviderName.aws_sms_v2],
        sms_v2_endpoint_url=sms_v2_fake.url,
        sms_origination_number="+12025550199",
        sms_configuration_set="notify-receipts",
    )
    async with serving(configured) as (client, runtime):
        default, switched = await create_account(runtime), await create_account(runtime)
        async with runtime.engine.begin() as conn:
            await choose_providers(conn, switched.service_id, sms="aws-sms-v2",
                                   available_sms=["aws-sns", "aws-sms-v2"], available_email=["ses"])
        via_sns = await recorded(runtime, await send_sms(client, default.headers(), default.sms_template_id,
                                                         default_number))
        switched_id = await send_sms(client, switched.headers(), switched.sms_template_id, switched_number)
        via_v2 = await recorded(runtime, switched_id)

    assert via_sns.provider == "aws-sns"
    assert moto_published_sms()[via_sns.provider_reference]["phone_number"] == default_number
    assert via_v2.provider == "aws-sms-v2"
    assert [s.message_id for s in sms_v2_fake.sent] == [via_v2.provider_reference]
    sent = sms_v2_fake.sent[0]
    assert sent.destination == switched_number
    assert sent.body == "Hi Adaeze Marchetti, your appointment is on Friday 9th."
    # The service's sender "Agency" is not a number, so the configured origination number is used.
    assert sent.origination_identity == "+12025550199"
    assert sent.configuration_set == "notify-receipts"
    assert sent.message_type == "TRANSACTIONAL"
    assert sent.context == {"notification_id": switched_id}
