"""Outbox claims driven by hand: leases, several workers, expired files, vanished rows.

The worker's own callback loop is off here, so each test decides when a round runs; the rounds
are the real dispatcher POSTing over a real client to the real receiving server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from notify.callbacks.claims import claim_due
from notify.callbacks.destinations import CallbackDestinations
from notify.callbacks.dispatch import (
    CallbackDispatcher,
    CallbackPolicy,
    callback_client,
)
from notify.catalogue.callbacks import remove_delivery_callback
from notify.config import Settings
from notify.runtime import Runtime
from tests.callbacks.support import outbox_rows, register_callback, send_sms
from tests.fixtures.callback_receiver import CallbackReceiver
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"callbacks_enabled": False})


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with callback_client(CallbackPolicy(timeout_seconds=3)) as client:
        yield client


def _dispatcher(runtime: Runtime, http: httpx.AsyncClient, batch_size: int = 100) -> CallbackDispatcher:
    policy = CallbackPolicy(batch_size=batch_size, concurrency=4, timeout_seconds=3, max_attempts=3,
                            backoff_base_seconds=0.1, backoff_cap_seconds=0.2)
    return CallbackDispatcher(runtime.engine, runtime.store, runtime.secrets, http, policy,
                              destinations=CallbackDestinations.for_settings(runtime.settings))


async def _sent_and_final(client: httpx.AsyncClient, account: Account, runtime: Runtime, *numbers: str) -> list[str]:
    """Send and wait until every outbox row exists (no loop runs to take them)."""
    ids = [await send_sms(client, account, number) for number in numbers]
    for notification_id in ids:
        await wait_for_status(client, account, notification_id, "delivered")
    assert {row[0] for row in await outbox_rows(runtime)} == set(ids)
    return ids


async def test_a_claimed_callback_waits_for_its_lease_then_is_sent(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    http: httpx.AsyncClient, pii_audit: PiiAudit,
) -> None:
    pii_audit.track("+12025550161")
    await register_callback(runtime, account, callback_receiver.url)
    (notification_id,) = await _sent_and_final(client, account, runtime, "+12025550161")

    # A worker claims the callback, then dies before POSTing it.
    (claimed,) = await claim_due(runtime.engine, limit=10, lease_seconds=60)
    assert (str(claimed.notification_id), claimed.attempt) == (notification_id, 1)
    dispatcher = _dispatcher(runtime, http)
    assert (await dispatcher.dispatch_once()).claimed == 0  # still leased: nobody else takes it

    async with runtime.engine.begin() as conn:  # the lease runs out
        await conn.execute(text("UPDATE callback_outbox SET next_attempt_at = now() - interval '1 second'"))
    outcome = await dispatcher.dispatch_once()
    assert (outcome.claimed, outcome.sent) == (1, 1)
    assert [r.body["id"] for r in callback_receiver.requests] == [notification_id]
    assert await outbox_rows(runtime) == []


async def test_workers_share_the_outbox_without_sending_anything_twice(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    http: httpx.AsyncClient, pii_audit: PiiAudit,
) -> None:
    numbers = [f"+1202555{n:04d}" for n in range(162, 174)]
    pii_audit.track(*numbers)
    await register_callback(runtime, account, callback_receiver.url)
    ids = await _sent_and_final(client, account, runtime, *numbers)

    async def worker() -> int:
        dispatcher, sent = _dispatcher(runtime, http, batch_size=5), 0
        while (outcome := await dispatcher.dispatch_once()).claimed:
            sent += outcome.sent
        return sent

    counts = await asyncio.gather(worker(), worker())
    assert sum(counts) == len(ids)
    assert sorted(r.body["id"] for r in callback_receiver.requests) == sorted(ids)
    assert await outbox_rows(runtime) == []


async def test_to_is_null_once_the_recipient_file_has_expired(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    http: httpx.AsyncClient, pii_audit: PiiAudit,
) -> None:
    pii_audit.track("+12025550175")
    await register_callback(runtime, account, callback_receiver.url)
    (notification_id,) = await _sent_and_final(client, account, runtime, "+12025550175")
    async with runtime.engine.connect() as conn:
        key = (await conn.execute(
            text("SELECT j.object_key FROM jobs j JOIN notifications n ON n.job_id = j.id WHERE n.id = :id"),
            {"id": notification_id},
        )).scalar_one()
    await runtime.store.delete(key)  # what retention does when the service's retention ends

    assert (await _dispatcher(runtime, http).dispatch_once()).sent == 1
    (request,) = callback_receiver.requests
    assert request.body["id"] == notification_id
    assert (request.body["to"], request.body["status"]) == (None, "delivered")


async def test_nothing_is_sent_for_a_removed_callback_or_a_deleted_notification(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, callback_receiver: CallbackReceiver,
    http: httpx.AsyncClient, pii_audit: PiiAudit,
) -> None:
    pii_audit.track("+12025550176", "+12025550177")
    await register_callback(runtime, account, callback_receiver.url)
    gone, kept = await _sent_and_final(client, account, runtime, "+12025550176", "+12025550177")
    async with runtime.engine.begin() as conn:  # retention deleted this one before its callback went
        await conn.execute(text("DELETE FROM notifications WHERE id = :id"), {"id": gone})
    outcome = await _dispatcher(runtime, http).dispatch_once()
    assert (outcome.claimed, outcome.dropped, outcome.sent) == (2, 1, 1)
    assert [r.body["id"] for r in callback_receiver.requests] == [kept]

    (again,) = await _sent_and_final(client, account, runtime, "+12025550177")
    async with runtime.engine.begin() as conn:
        assert await remove_delivery_callback(conn, account.service_id)
    assert await outbox_rows(runtime) == []
    assert (await _dispatcher(runtime, http).dispatch_once()).claimed == 0
    assert len(callback_receiver.requests) == 1 and again != kept
