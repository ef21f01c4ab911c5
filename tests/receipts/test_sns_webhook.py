"""POST /notifications/receipts/sns end to end: real app, real PostgreSQL, a real HTTPS server for AWS.

Notifications are sent through the v2 API; the simulated provider's own receipts are held back
(see conftest), so each status change below comes from the signed SNS message.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from notify.app import create_app
from notify.config import Environment, Settings
from notify.runtime import Runtime
from notify.sending.providers.simulated import SimulatedProvider
from notify.statuses import label
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.sending import send
from tests.support.sns import (
    TOPIC_ARN,
    AwsServer,
    Pki,
    Signer,
    post_sns,
    ses_event,
    sms_event,
)


async def _notification(runtime: Runtime, notification_id: str) -> dict[str, Any]:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT status, provider_reference, carrier, provider_response, notification_type "
                     "FROM notifications WHERE id = :id"),
                {"id": notification_id},
            )
        ).mappings().one()
    return dict(row)


async def _sent(runtime: Runtime, notification_id: str, timeout: float = 15.0) -> str:
    """Wait for the worker to hand the notification to the provider; returns its provider reference."""
    deadline = time.monotonic() + timeout
    while True:
        row = await _notification(runtime, notification_id)
        if row["provider_reference"]:
            assert row["status"] == "sending"
            return str(row["provider_reference"])
        assert time.monotonic() < deadline, "the notification was never sent"
        await asyncio.sleep(0.05)


async def _seen_ids(runtime: Runtime) -> list[str]:
    async with runtime.engine.connect() as conn:
        return list((await conn.execute(text("SELECT message_id FROM sns_messages_seen"))).scalars())


def _error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body.get("status_code") == response.status_code, response.text
    [error] = body["errors"]
    return response.status_code, error["error"]


@pytest.mark.parametrize("version", ["1", "2"])
async def test_ses_delivery_and_bounces_change_statuses(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, signer: Signer, pii_audit: PiiAudit, version: str
) -> None:
    recipients = ["ada.lovelace@agency.example.gov", "grace.hopper@agency.example.gov", "alan.turing@agency.example.gov"]
    pii_audit.track(*recipients)
    ids = [await send(client, account, r) for r in recipients]
    refs = [await _sent(runtime, i) for i in ids]

    events = [
        ses_event("Delivery", refs[0], recipients[0]),
        ses_event("Bounce", refs[1], recipients[1]),
        ses_event("Bounce", refs[2], recipients[2], source="notificationType", bounce_type="Transient",
                  bounce_sub_type="MailboxFull"),
    ]
    for event in events:
        response = await post_sns(client, signer.notification(event, version=version, subject="Amazon SES Email Event"))
        assert response.status_code == 200, response.text
        assert response.json() == {"result": "applied"}

    rows = [await _notification(runtime, i) for i in ids]
    assert [(r["status"], r["provider_response"]) for r in rows] == [
        ("delivered", None),
        ("permanent-failure", "Permanent/General"),
        ("temporary-failure", "Transient/MailboxFull"),
    ]
    assert label("email", rows[1]["status"], rows[1]["provider_response"]) == "Email address doesn't exist"
    fetched = await client.get(f"/v2/notifications/{ids[1]}", headers=account.headers())
    assert fetched.json()["status"] == "permanent-failure"


async def test_sms_events_change_statuses_with_carrier_and_reason(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, signer: Signer, pii_audit: PiiAudit
) -> None:
    phones = ["+12025550171", "+12025550172", "+12025550173", "+12025550174"]
    pii_audit.track(*phones)
    ids = [await send(client, account, p) for p in phones]
    refs = [await _sent(runtime, i) for i in ids]
    events = [
        sms_event("TEXT_DELIVERED", refs[0], phones[0], carrier="Verizon Wireless"),
        sms_event("TEXT_CARRIER_BLOCKED", refs[1], phones[1], carrier="T-Mobile"),
        sms_event("TEXT_TTL_EXPIRED", refs[2], phones[2], carrier=None),
        sms_event("TEXT_PENDING", refs[3], phones[3]),
    ]
    responses = await asyncio.gather(*(post_sns(client, signer.notification(e)) for e in events))
    assert [r.status_code for r in responses] == [200] * 4

    rows = [await _notification(runtime, i) for i in ids]
    assert [(r["status"], r["carrier"], r["provider_response"]) for r in rows] == [
        ("delivered", "Verizon Wireless", None),
        ("permanent-failure", "T-Mobile", "Phone carrier has blocked this message"),
        ("temporary-failure", None, "TTL expired"),
        ("pending", "Verizon Wireless", None),
    ]
    assert label("sms", rows[1]["status"], rows[1]["provider_response"]) == "Carrier rejected"
    # A later final event moves the pending one on; an out-of-order pending never moves a final one back.
    later = [sms_event("TEXT_SUCCESSFUL", refs[3], phones[3]), sms_event("TEXT_PENDING", refs[0], phones[0])]
    assert [(await post_sns(client, signer.notification(e))).status_code for e in later] == [200, 200]
    assert [(await _notification(runtime, i))["status"] for i in (ids[3], ids[0])] == ["delivered", "delivered"]


async def test_unsigned_tampered_and_forged_messages_are_rejected(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, signer: Signer, pii_audit: PiiAudit,
    aws_server: AwsServer, pki: Pki,
) -> None:
    phone = "+12025550175"
    pii_audit.track(phone)
    notification_id = await send(client, account, phone)
    ref = await _sent(runtime, notification_id)
    genuine = signer.notification(sms_event("TEXT_DELIVERED", ref, phone))
    unsigned = {k: v for k, v in genuine.items() if k != "Signature"}

    rejected = {
        "unsigned": unsigned,
        "empty signature": {**genuine, "Signature": ""},
        "tampered": {**genuine, "Message": genuine["Message"].replace("TEXT_DELIVERED", "TEXT_BLOCKED")},
        "forged": signer.sign(unsigned, key=pki.other_key),
        "unknown version": {**genuine, "SignatureVersion": "3"},
        "other topic, same signature": {**genuine, "TopicArn": TOPIC_ARN + "-other"},
    }
    for name, message in rejected.items():
        assert _error(await post_sns(client, message)) == (403, "AuthError"), name
    assert (await _notification(runtime, notification_id))["status"] == "sending"
    assert await _seen_ids(runtime) == []

    assert (await post_sns(client, genuine)).status_code == 200
    assert (await _notification(runtime, notification_id))["status"] == "delivered"


async def test_certificates_from_anywhere_but_the_sns_host_are_refused_unfetched(
    client: httpx.AsyncClient, signer: Signer, aws_server: AwsServer, pki: Pki
) -> None:
    # The forger's certificate really is served (by the same server, under another host name), and
    # really matches the forger's signature: only the host rule stands in the way.
    other = f"{aws_server.base_url}/SimpleNotificationService-other.pem"
    for url in (
        other.replace("127.0.0.1", "localhost"),
        other.replace("https:", "http:"),
        other.replace(".pem", ".txt"),
        "https://sns.us-east-1.amazonaws.com.127.0.0.1.nip.io/SimpleNotificationService-other.pem",
    ):
        event = ses_event("Delivery", "ses-unknown", "someone.else@agency.example.gov")
        message = signer.sign(
            {k: v for k, v in signer.notification(event).items() if k != "Signature"} | {"SigningCertURL": url},
            key=pki.other_key,
        )
        assert _error(await post_sns(client, message)) == (403, "AuthError"), url
    assert aws_server.requests == []


async def test_a_replayed_message_is_rejected_and_not_applied_again(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, signer: Signer, pii_audit: PiiAudit
) -> None:
    phone = "+12025550176"
    pii_audit.track(phone)
    notification_id = await send(client, account, phone)
    ref = await _sent(runtime, notification_id)
    message = signer.notification(sms_event("TEXT_DELIVERED", ref, phone))
    assert (await post_sns(client, message)).status_code == 200
    assert _error(await post_sns(client, message)) == (409, "ConflictError")
    assert await _seen_ids(runtime) == [message["MessageId"]]

    # Two copies at once (SNS delivers at least once): exactly one is applied.
    twice = signer.notification(sms_event("TEXT_DELIVERED", ref, phone))
    codes = sorted(r.status_code for r in await asyncio.gather(post_sns(client, twice), post_sns(client, twice)))
    assert codes == [200, 409]
    assert sorted(await _seen_ids(runtime)) == sorted([message["MessageId"], twice["MessageId"]])


async def test_stale_and_future_timestamps_are_rejected(
    client: httpx.AsyncClient, signer: Signer, runtime: Runtime
) -> None:
    now = datetime.now(UTC)
    event = sms_event("TEXT_DELIVERED", "sim-unknown", "+12025550177")
    for sent_at in (now - timedelta(hours=1, minutes=1), now + timedelta(minutes=10)):
        assert _error(await post_sns(client, signer.notification(event, sent_at=sent_at))) == (403, "AuthError")
    # Within the window (and within the allowed clock skew) is fine.
    for sent_at in (now - timedelta(minutes=59), now + timedelta(minutes=2)):
        assert (await post_sns(client, signer.notification(event, sent_at=sent_at))).status_code == 200
    assert _error(await post_sns(client, signer.notification(event, Timestamp="yesterday"))) == (400, "ValidationError")
    assert len(await _seen_ids(runtime)) == 2


async def test_subscription_confirmation_gets_the_subscribe_url_exactly_once(
    client: httpx.AsyncClient, signer: Signer, aws_server: AwsServer, runtime: Runtime
) -> None:
    confirmation = signer.confirmation(version="1")
    responses = await asyncio.gather(*(post_sns(client, confirmation) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 409, 409]
    assert aws_server.requested("/confirm") == [confirmation["SubscribeURL"].removeprefix(aws_server.base_url)]
    assert await _seen_ids(runtime) == [confirmation["MessageId"]]


async def test_a_subscribe_url_off_the_sns_host_is_never_fetched(
    client: httpx.AsyncClient, signer: Signer, aws_server: AwsServer, runtime: Runtime
) -> None:
    for url in ("https://localhost:1/confirm?Token=x", "http://127.0.0.1:1/confirm?Token=x"):
        confirmation = signer.confirmation(SubscribeURL=url)
        assert _error(await post_sns(client, confirmation)) == (403, "AuthError")
    assert aws_server.requested("/confirm") == []
    # A failed confirmation (AWS unreachable) is not recorded, so SNS's retry is not taken for a replay.
    unreachable = signer.confirmation(SubscribeURL="https://127.0.0.1:1/confirm?Token=x")
    assert _error(await post_sns(client, unreachable)) == (503, "ServiceUnavailableError")
    assert await _seen_ids(runtime) == []


async def test_unsubscribe_confirmation_is_acknowledged_without_a_request(
    client: httpx.AsyncClient, signer: Signer, aws_server: AwsServer
) -> None:
    response = await post_sns(client, signer.confirmation("UnsubscribeConfirmation"))
    assert (response.status_code, response.json()) == (200, {"result": "unsubscribed"})
    assert aws_server.requested("/confirm") == []


async def test_unknown_references_and_shapes_are_acknowledged(
    client: httpx.AsyncClient, signer: Signer, caplog: pytest.LogCaptureFixture, pii_audit: PiiAudit
) -> None:
    email, phone = "nobody.known@agency.example.gov", "+12025550178"
    pii_audit.track(email, phone)
    messages = [
        signer.notification(ses_event("Bounce", f"ses-{uuid.uuid4()}", email)),
        signer.notification(sms_event("TEXT_DELIVERED", f"sim-{uuid.uuid4()}", phone)),
        signer.notification(ses_event("Open", f"ses-{uuid.uuid4()}", email)),
        signer.notification({"eventType": "TEXT_SOMETHING_NEW", "messageId": "m", "destinationPhoneNumber": phone}),
        signer.notification({"AlarmName": "not a receipt", "Owner": email}),
        signer.notification(f"plain text mentioning {email}"),
    ]
    results = []
    for message in messages:
        response = await post_sns(client, message)
        assert response.status_code == 200, response.text
        results.append(response.json()["result"])
    assert results == ["applied", "applied", "ignored", "ignored", "ignored", "ignored"]
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]  # structlog's event dicts
    kinds = [e["kind"] for e in events if e.get("action") == "sns.notification"]
    assert kinds == ["ses.Bounce", "sms.TEXT_DELIVERED", "ses.Open", "sms.TEXT_SOMETHING_NEW",
                     "unrecognised.unknown", "unrecognised.not-json"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", (400, "ValidationError")),
        (b"[]", (400, "ValidationError")),
        (b'{"Type": "Notification"}', (400, "ValidationError")),
        (b'{"Type": "SomethingElse", "MessageId": "m"}', (400, "ValidationError")),
        (orjson.dumps({"Type": "Notification", "MessageId": "m" * 300, "TopicArn": TOPIC_ARN, "Message": "{}",
                       "Timestamp": "2026-01-01T00:00:00.000Z", "SigningCertURL": "https://x/y.pem",
                       "Signature": "c2ln"}), (400, "ValidationError")),
        (b"{" + b" " * (600 * 1024) + b"}", (413, "RequestTooLarge")),
    ],
)
async def test_malformed_bodies_are_400s(client: httpx.AsyncClient, body: bytes, expected: tuple[int, str]) -> None:
    assert _error(await post_sns(client, body)) == expected


@pytest.fixture
async def restricted_client(
    settings: Settings, provider: SimulatedProvider, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose accepted topics come from the test's ``topics`` marker-free parameter."""
    update: dict[str, Any] = request.param
    app: FastAPI = create_app(settings.model_copy(update=update), sms_provider=provider, email_provider=provider)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            yield c


@pytest.mark.parametrize(
    "restricted_client", [{"sns_topic_arns": ["arn:aws:sns:*:123456789012:notify-*"]}], indirect=True
)
async def test_only_allowed_topics_are_accepted(restricted_client: httpx.AsyncClient, signer: Signer) -> None:
    event = sms_event("TEXT_DELIVERED", "sim-unknown", "+12025550179")
    assert (await post_sns(restricted_client, signer.notification(event))).status_code == 200
    other = signer.notification(event, topic_arn="arn:aws:sns:us-east-1:999999999999:notify-receipts")
    assert _error(await post_sns(restricted_client, other)) == (403, "AuthError")
    assert _error(await post_sns(restricted_client, signer.confirmation(TopicArn="arn:aws:sns:us-east-1:9:x"))) == (
        403, "AuthError"
    )


@pytest.mark.parametrize("restricted_client", [{"environment": Environment.production}], indirect=True)
async def test_production_accepts_no_topic_until_one_is_configured(
    restricted_client: httpx.AsyncClient, signer: Signer, aws_server: AwsServer
) -> None:
    assert _error(await post_sns(restricted_client, signer.confirmation())) == (403, "AuthError")
    assert aws_server.requests == []


async def test_old_seen_ids_are_purged_by_the_next_batch(
    client: httpx.AsyncClient, signer: Signer, runtime: Runtime
) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO sns_messages_seen (message_id, received_at) VALUES "
                 "('old', now() - interval '2 hours'), ('recent', now() - interval '50 minutes')")
        )
    message = signer.notification(sms_event("TEXT_DELIVERED", "sim-unknown", "+12025550180"))
    assert (await post_sns(client, message)).status_code == 200
    # The purge runs just after the batch has answered its requests, so wait for it.
    deadline = time.monotonic() + 10
    while "old" in (seen := await _seen_ids(runtime)):
        assert time.monotonic() < deadline, "the old id was never purged"
        await asyncio.sleep(0.02)
    assert sorted(seen) == sorted(["recent", message["MessageId"]])
