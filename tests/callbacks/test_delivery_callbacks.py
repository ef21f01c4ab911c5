"""Delivery-status callbacks through the real path: API send, simulated receipt, worker loop, HTTP POST."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from notify.runtime import Runtime
from tests.callbacks.support import (
    BEARER_TOKEN,
    log_events,
    outbox_rows,
    register_callback,
    send_sms,
    wait_for_empty_outbox,
)
from tests.fixtures.callback_receiver import CallbackReceiver
from tests.support.accounts import Account
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_for_job
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sending import EMAIL_PERSONALISATION

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
KEYS = {"id", "reference", "to", "status", "created_at", "completed_at", "sent_at", "notification_type",
        "template_id", "template_version"}


async def test_each_final_status_is_posted_once_in_notify_format(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    pii_audit: PiiAudit,
) -> None:
    pii_audit.track("+12025550131", "+14254147222", "Ada.Lovelace@example.gov")
    await register_callback(runtime, account, callback_receiver.url)
    delivered = await send_sms(client, account, "+1 (202) 555-0131", reference="case-1")
    failed = await send_sms(client, account, "+14254147222")
    response = await client.post(
        "/v2/notifications/email",
        json={"email_address": "Ada.Lovelace@example.gov", "template_id": str(account.email_template_id),
              "personalisation": EMAIL_PERSONALISATION},
        headers=account.headers(),
    )
    assert response.status_code == 201, response.text
    emailed = response.json()["id"]

    received = await callback_receiver.wait_for(3)
    await wait_for_empty_outbox(runtime)  # each callback left the outbox when accepted: none can go twice
    assert len(callback_receiver.requests) == 3
    bodies = {r.body["id"]: r.body for r in received}
    assert set(bodies) == {delivered, failed, emailed}

    for request in received:
        assert request.headers["authorization"] == f"Bearer {BEARER_TOKEN}"
        assert request.headers["content-type"] == "application/json"
        assert request.path == "/notify/status?source=notify"
        body = request.body
        assert set(body) == KEYS
        api = await wait_for_status(client, account, body["id"], body["status"])
        for key in ("created_at", "sent_at", "completed_at"):
            assert TIMESTAMP.match(body[key]), (key, body[key])
            assert body[key] == api[key]
        assert isinstance(body["template_version"], int) and body["template_version"] == 1

    assert bodies[delivered] | {"created_at": None, "sent_at": None, "completed_at": None} == {
        "id": delivered, "reference": "case-1", "to": "+12025550131", "status": "delivered",
        "created_at": None, "completed_at": None, "sent_at": None, "notification_type": "sms",
        "template_id": str(account.sms_template_id), "template_version": 1,
    }
    assert (bodies[failed]["status"], bodies[failed]["to"], bodies[failed]["reference"]) == (
        "permanent-failure", "+14254147222", None)
    assert (bodies[emailed]["to"], bodies[emailed]["notification_type"], bodies[emailed]["template_id"]) == (
        "Ada.Lovelace@example.gov", "email", str(account.email_template_id))


async def test_failed_callbacks_are_retried_with_backoff_until_accepted(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    pii_audit: PiiAudit, caplog: pytest.LogCaptureFixture,
) -> None:
    pii_audit.track("+12025550132")
    await register_callback(runtime, account, callback_receiver.url)
    callback_receiver.respond_with(503, 429)
    notification_id = await send_sms(client, account, "+12025550132")

    first, second, third = await callback_receiver.wait_for(3)
    assert [r.answered for r in (first, second, third)] == [503, 429, 200]
    assert first.body == second.body == third.body and first.body["id"] == notification_id
    await wait_for_empty_outbox(runtime)
    retries = log_events(caplog.records, "callbacks.retry")
    assert [(e["attempt"], e["error"]) for e in retries] == [(1, "HTTP 503"), (2, "HTTP 429")]
    # Backoff settings: 0.2 s base, 0.4 s cap, the upper half random -> waits of 0.1-0.2 s, then 0.2-0.4 s.
    first_wait, second_wait = (e["retry_in_seconds"] for e in retries)
    assert 0.1 <= first_wait <= 0.2 and 0.2 <= second_wait <= 0.4, (first_wait, second_wait)
    # And each retry waited at least that long (a loaded machine only makes the gap longer).
    assert second.at - first.at >= first_wait - 0.01
    assert third.at - second.at >= second_wait - 0.01
    assert not log_events(caplog.records, "callbacks.gave_up")


@pytest.mark.parametrize(("status", "attempts"), [(500, 3), (400, 1)], ids=["server-error", "refused"])
async def test_a_failing_url_is_given_up_and_leaves_no_outbox_row(
    status: int, attempts: int, client: httpx.AsyncClient, account: Account, runtime: Runtime,
    callback_receiver: CallbackReceiver, pii_audit: PiiAudit, caplog: pytest.LogCaptureFixture,
) -> None:
    """5xx is retried up to callback_max_attempts (3 here); a 4xx refusal is not retried at all."""
    pii_audit.track("+12025550133")
    await register_callback(runtime, account, callback_receiver.url)
    callback_receiver.always(status)
    notification_id = await send_sms(client, account, "+12025550133")

    await callback_receiver.wait_for(attempts)
    await wait_for_empty_outbox(runtime)  # given up: nothing is left to retry, so no further attempt comes
    assert len(callback_receiver.requests) == attempts
    (gave_up,) = log_events(caplog.records, "callbacks.gave_up")
    assert (gave_up["notification_id"], gave_up["attempts"], gave_up["error"]) == (
        notification_id, attempts, f"HTTP {status}")
    logged = "\n".join(r.getMessage() + repr(r.msg) for r in caplog.records)
    assert "source=notify" not in logged and "nope" not in logged  # neither the URL's query nor the body


async def test_a_hanging_callback_server_does_not_delay_sends_or_receipts(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    pii_audit: PiiAudit,
) -> None:
    numbers = [f"+1202555{n:04d}" for n in range(140, 151)]
    pii_audit.track(*numbers)
    await register_callback(runtime, account, callback_receiver.url)
    callback_receiver.hang()
    first = await send_sms(client, account, numbers[0])
    await callback_receiver.wait_for(1)  # the worker's POST is now stuck, for up to the 10 s timeout

    started = time.monotonic()
    ids = [await send_sms(client, account, number) for number in numbers[1:]]
    for notification_id in ids:
        await wait_for_status(client, account, notification_id, "delivered", timeout=5)
    assert time.monotonic() - started < 5  # all delivered while the callback still hangs
    assert [r.answered for r in callback_receiver.requests] == [None]

    callback_receiver.release()
    received = await callback_receiver.wait_for(len(numbers), delivered=True, timeout=20)
    assert {r.body["id"] for r in received} == {first, *ids}
    await wait_for_empty_outbox(runtime)


async def test_a_service_without_a_callback_gets_no_outbox_rows(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    pii_audit: PiiAudit,
) -> None:
    pii_audit.track("+12025550134", "+14254147222")
    ids = [await send_sms(client, account, "+12025550134"), await send_sms(client, account, "+14254147222")]
    await wait_for_status(client, account, ids[0], "delivered")
    await wait_for_status(client, account, ids[1], "permanent-failure")
    assert await outbox_rows(runtime) == []  # final statuses queued nothing, so nothing can be posted
    assert callback_receiver.requests == []


async def test_spreadsheet_rows_get_their_own_recipient(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    pii_audit: PiiAudit,
) -> None:
    rows = sms_rows(30, start=300)
    expected = {f"+1202555{300 + n:04d}" for n in range(30)}
    pii_audit.track(*expected)
    await register_callback(runtime, account, callback_receiver.url)
    response = await upload(client, account, csv_bytes(rows))
    assert response.status_code == 201, response.text
    job_id = response.json()["data"]["id"]

    received = await callback_receiver.wait_for(30)
    await wait_for_empty_outbox(runtime)
    assert len({r.body["id"] for r in received}) == 30
    assert {r.body["to"] for r in received} == expected
    assert {r.body["reference"] for r in received} == {None}
    await wait_for_job(client, account, job_id)
