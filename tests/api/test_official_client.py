"""The official GOV.UK Notify Python client, unmodified, against a running server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.sending import SMS_PERSONALISATION

T = TypeVar("T")


def _wait_for(client: NotificationsAPIClient, notification_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = client.get_notification_by_id(notification_id)
        if found["status"] == status:
            return found  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"{notification_id} never reached {status}")


async def _in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


async def test_official_client_end_to_end(live_server: str, account: Account, pii_audit: PiiAudit) -> None:
    client = NotificationsAPIClient(account.key(), base_url=live_server)
    pii_audit.track("+1 202-555-0143", "grace.hopper@example.org")
    pii_audit.track_personalisation("Grace Hopper")

    sms = await _in_thread(lambda: client.send_sms_notification(
        phone_number="+1 202-555-0143",
        template_id=str(account.sms_template_id),
        personalisation={"name": "Grace Hopper", "day": "Monday"},
        reference="client-ref",
    ))
    assert sms["content"]["body"] == "Hi Grace Hopper, your appointment is on Monday."
    email = await _in_thread(lambda: client.send_email_notification(
        email_address="grace.hopper@example.org",
        template_id=str(account.email_template_id),
        personalisation={"name": "Grace Hopper", "case": "CASE-7731"},
    ))
    assert email["content"]["subject"] == "Your case CASE-7731"

    got_sms = await _in_thread(lambda: _wait_for(client, sms["id"], "delivered"))
    assert got_sms["phone_number"] == "+12025550143"
    assert got_sms["reference"] == "client-ref"
    got_email = await _in_thread(lambda: _wait_for(client, email["id"], "delivered"))
    assert got_email["email_address"] == "grace.hopper@example.org"
    assert got_email["body"] == "Dear Grace Hopper,\n\nYour case CASE-7731 is ready."

    template = await _in_thread(lambda: client.get_template(str(account.sms_template_id)))
    assert template["body"] == "Hi ((name)), your appointment is on ((day))."
    version = await _in_thread(lambda: client.get_template_version(str(account.sms_template_id), 1))
    assert version["version"] == 1
    templates = await _in_thread(lambda: client.get_all_templates(template_type="email"))
    assert [t["id"] for t in templates["templates"]] == [str(account.email_template_id)]
    preview = await _in_thread(lambda: client.post_template_preview(
        str(account.sms_template_id), {"name": "Ada", "day": "Friday"}
    ))
    assert preview["body"] == "Hi Ada, your appointment is on Friday."

    with pytest.raises(HTTPError) as raised:
        await _in_thread(lambda: client.send_sms_notification(
            phone_number="+1 202-555", template_id=str(account.sms_template_id),
            personalisation=SMS_PERSONALISATION,
        ))
    assert raised.value.status_code == 400
    assert raised.value.message == [{"error": "ValidationError", "message": "phone_number Not enough digits"}]


async def test_official_client_iterates_600_notifications(
    live_server: str, account: Account, pii_audit: PiiAudit
) -> None:
    client = NotificationsAPIClient(account.key(), base_url=live_server)
    numbers = [f"+1202555{n:04d}" for n in range(1000, 1600)]
    pii_audit.track(*numbers)

    def send(number: str) -> str:
        return str(client.send_sms_notification(
            phone_number=number, template_id=str(account.sms_template_id),
            personalisation=SMS_PERSONALISATION,
        )["id"])

    def send_all() -> set[str]:
        with ThreadPoolExecutor(max_workers=16) as pool:
            return set(pool.map(send, numbers))

    sent = await _in_thread(send_all)
    listed = await _in_thread(lambda: list(client.get_all_notifications_iterator()))
    assert len(listed) == 600
    assert {n["id"] for n in listed} == sent
    assert {n["phone_number"] for n in listed} == set(numbers)
