"""What a team sees when a provider refuses, throttles, errors or never answers.

Providers run over real HTTP: moto's SNS behind a proxy that misbehaves for chosen numbers, and
the End User Messaging fake.  Their error messages name the recipient, as AWS's do; the PII audit
proves none of that text is kept.
"""

from __future__ import annotations

import csv
import io

from notify.config import ProviderName, Settings
from notify.statuses import label
from tests.fixtures.sms_v2_fake import SmsV2Fake
from tests.fixtures.sns_proxy import SnsProxy
from tests.support.accounts import create_account
from tests.support.aws import aws_settings, moto_published_sms, notification_rows, serving
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_for_job
from tests.support.pii_audit import PiiAudit


def e164(row: list[str]) -> str:
    """sms_rows writes '(202) 555-0123'; providers see +12025550123."""
    return "+1" + "".join(ch for ch in row[0] if ch.isdigit())


async def test_refusals_for_the_recipient_are_permanent_failures_with_a_reason(
    settings: Settings, moto_s3_endpoint: str, sms_v2_fake: SmsV2Fake, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(3, start=7300)
    pii_audit.track(*(r[0] for r in rows))
    opted_out, invalid, fine = (e164(r) for r in rows)
    sms_v2_fake.fail(opted_out, "ConflictException", reason="DESTINATION_PHONE_NUMBER_OPTED_OUT")
    sms_v2_fake.fail(invalid, "ValidationException", reason="INVALID_PARAMETER", fields=("DestinationPhoneNumber",))
    configured = aws_settings(
        settings, moto_s3_endpoint, sms_provider=ProviderName.aws_sms_v2, sms_v2_endpoint_url=sms_v2_fake.url
    )
    async with serving(configured) as (client, runtime):
        account = await create_account(runtime)
        job_id = (await upload(client, account, csv_bytes(rows))).json()["data"]["id"]
        await wait_for_job(client, account, job_id)
        sent = await notification_rows(runtime, job_id)
        report = (await client.get(f"/v2/jobs/{job_id}/report.csv", headers=account.headers())).content
        shown = (await client.get(f"/v2/notifications/{sent[0].id}", headers=account.headers())).json()

    assert (sent[0].status, sent[0].provider_response) == ("permanent-failure", "Phone number is opted out")
    assert (sent[1].status, sent[1].provider_response) == ("permanent-failure", "Invalid phone number")
    assert sent[0].completed_at is not None and sent[1].completed_at is not None
    assert sent[2].status == "sending" and sent[2].provider_reference == sms_v2_fake.sent_to(fine)[0].message_id
    # A refusal about the recipient is final: asking again cannot change the answer.
    assert (sms_v2_fake.requests[opted_out], sms_v2_fake.requests[invalid]) == (1, 1)
    assert (shown["status"], shown["provider_response"]) == ("permanent-failure", "Phone number is opted out")
    responses = [r["Carrier Response"] for r in csv.DictReader(io.StringIO(report.decode("utf-8-sig")))]
    assert responses == ["Phone number is opted out", "Invalid phone number", ""]
    # The fixed reasons are the wording reports turn into their human labels.
    assert label("sms", sent[0].status, sent[0].provider_response) == "Recipient has opted out"
    assert label("sms", sent[1].status, sent[1].provider_response) == "Phone number doesn't exist"


async def test_sns_invalid_number_is_a_permanent_failure(
    settings: Settings, sns_proxy: SnsProxy, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(2, start=7400)
    pii_audit.track(*(r[0] for r in rows))
    bad = e164(rows[0])
    sns_proxy.fail(bad, "InvalidParameter", message=f"Invalid parameter: PhoneNumber Reason: {bad} is not valid")
    async with serving(aws_settings(settings, sns_proxy.url)) as (client, runtime):
        account = await create_account(runtime)
        job_id = (await upload(client, account, csv_bytes(rows))).json()["data"]["id"]
        await wait_for_job(client, account, job_id)
        sent = await notification_rows(runtime, job_id)

    assert (sent[0].status, sent[0].provider, sent[0].provider_response) == (
        "permanent-failure", "aws-sns", "Invalid phone number"
    )
    assert len(sns_proxy.requests_for(bad)) == 1
    assert sent[1].status == "sending" and sent[1].provider_reference in moto_published_sms()


async def test_a_throttled_message_waits_without_holding_up_the_rest_of_its_chunk(
    settings: Settings, sns_proxy: SnsProxy, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(5, start=7500)
    pii_audit.track(*(r[0] for r in rows))
    throttled, others = e164(rows[0]), [e164(r) for r in rows[1:]]
    sns_proxy.fail(throttled, "Throttling", message="Rate exceeded", times=2)
    # One message in flight at a time, two rows per claim: if the throttled one kept its slot, or
    # its claim waited for it, while it backed off (at least 0.5 s, then 1 s), nothing else could
    # be sent meanwhile.
    configured = aws_settings(
        settings, sns_proxy.url, send_concurrency=1, claim_rows=2,
        provider_backoff_initial_seconds=1.0, provider_backoff_max_seconds=4.0,
    )
    async with serving(configured) as (client, runtime):
        account = await create_account(runtime)
        job_id = (await upload(client, account, csv_bytes(rows))).json()["data"]["id"]
        await wait_for_job(client, account, job_id)
        sent = await notification_rows(runtime, job_id)

    attempts = sns_proxy.requests_for(throttled)
    assert [e.action for e in attempts] == ["failed:Throttling", "failed:Throttling", "forwarded"]
    assert attempts[2].at - attempts[0].at >= 1.5  # it backed off, twice
    for number in others:
        (request,) = sns_proxy.requests_for(number)
        assert attempts[0].at < request.at < attempts[1].at, "the others went out during the first backoff"
    # ...and were recorded then, not held back until the throttled message was sent.
    assert (sent[0].updated_at - max(sent[n].updated_at for n in range(1, 5))).total_seconds() >= 1.0
    published = moto_published_sms()
    assert all(sent[n].status == "sending" and sent[n].provider_reference in published for n in range(5))
    assert [m["phone_number"] for m in published.values()].count(throttled) == 1


async def test_retries_are_bounded_and_end_in_technical_failure(
    settings: Settings, sns_proxy: SnsProxy, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(4, start=7600)
    pii_audit.track(*(r[0] for r in rows))
    unknown, always_throttled, flaky, fine = (e164(r) for r in rows)
    sns_proxy.fail(unknown, "SomethingNew")
    sns_proxy.fail(always_throttled, "Throttling")
    sns_proxy.fail(flaky, "InternalError", status=500, times=2)
    configured = aws_settings(settings, sns_proxy.url, provider_max_attempts=4, provider_throttle_max_wait_seconds=0.6)
    async with serving(configured) as (client, runtime):
        account = await create_account(runtime)
        job_id = (await upload(client, account, csv_bytes(rows))).json()["data"]["id"]
        await wait_for_job(client, account, job_id)
        sent = await notification_rows(runtime, job_id)

    assert len(sns_proxy.requests_for(unknown)) == 4, "exactly NOTIFY_PROVIDER_MAX_ATTEMPTS"
    assert (sent[0].status, sent[0].provider_response) == ("technical-failure", "Provider error (SomethingNew)")
    assert len(sns_proxy.requests_for(always_throttled)) >= 2
    assert (sent[1].status, sent[1].provider_response) == ("technical-failure", "Throttled by provider (Throttling)")
    assert [e.action for e in sns_proxy.requests_for(flaky)] == ["failed:InternalError"] * 2 + ["forwarded"]
    assert sent[2].status == "sending" and sent[2].provider_reference
    assert len(sns_proxy.requests_for(fine)) == 1 and sent[3].status == "sending"
    assert all(sent[n].completed_at is not None for n in (0, 1))


async def test_no_answer_after_sending_is_never_resent(
    settings: Settings, sns_proxy: SnsProxy, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(2, start=7700)
    pii_audit.track(*(r[0] for r in rows))
    slow = e164(rows[0])
    sns_proxy.delay(slow, 1.5)  # SNS takes the message, but its answer comes after our read timeout
    configured = aws_settings(settings, sns_proxy.url, provider_read_timeout_seconds=0.5)
    async with serving(configured) as (client, runtime):
        account = await create_account(runtime)
        job_id = (await upload(client, account, csv_bytes(rows))).json()["data"]["id"]
        await wait_for_job(client, account, job_id)
        sent = await notification_rows(runtime, job_id)

    assert len(sns_proxy.requests_for(slow)) == 1, "a request that may have been accepted is not repeated"
    assert sent[0].status == "technical-failure"
    assert sent[0].provider_response == "No answer from provider; not resent (ReadTimeoutError)"
    assert sent[1].status == "sending" and sent[1].provider_reference
