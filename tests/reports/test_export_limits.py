"""Report exports per service are limited, in flight and per day, counted in PostgreSQL (429 in v2 shape).

A fuzz run once created 770 full copies of a service's recipients; these tests hold the line,
including between requests that race each other at the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from notify.app import create_app
from notify.config import Settings
from notify.reports.exports import ExportLimitExceeded, ExportLimits, create_export
from notify.reports.query import ReportScope
from notify.runtime import Runtime
from notify.sending.providers.simulated import SimulatedProvider
from tests.support.accounts import Account, create_account


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"export_max_concurrent": 2, "export_max_per_day": 4})


@pytest.fixture
async def app(settings: Settings, provider: SimulatedProvider) -> AsyncIterator[FastAPI]:
    """No worker: exports stay waiting, so the in-flight limit can be reached."""
    application = create_app(settings, run_worker=False, sms_provider=provider, email_provider=provider)
    async with application.router.lifespan_context(application):
        yield application


async def _request(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    return await client.post("/v2/reports", json={"days": 1}, headers=account.headers())


async def test_exports_in_flight_and_per_day_are_limited(
    client: httpx.AsyncClient, runtime: Runtime, account: Account
) -> None:
    first, second = [await _request(client, account) for _ in range(2)]
    assert (first.status_code, second.status_code) == (202, 202)
    refused = await _request(client, account)
    assert refused.status_code == 429
    assert refused.json() == {"status_code": 429, "errors": [{
        "error": "TooManyRequestsError",
        "message": "Exceeded the limit of 2 report exports in progress at once; try again when one is ready",
    }]}

    # One finishes: its slot is free again, until the day's limit.
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE report_exports SET status = 'ready' WHERE id = :id"),
                           {"id": first.json()["data"]["id"]})
    assert (await _request(client, account)).status_code == 202
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE report_exports SET status = 'failed' WHERE service_id = :s"),
                           {"s": account.service_id})
    assert (await _request(client, account)).status_code == 202  # the fourth today
    over = await _request(client, account)
    assert over.status_code == 429
    assert over.json()["errors"][0]["message"] == "Exceeded the limit of 4 report exports a day; try again tomorrow (UTC)"
    async with runtime.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT count(*) FROM report_exports WHERE service_id = :s"),
                                     {"s": account.service_id})).scalar_one()
        queued = (await conn.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'write_export'"))
                  ).scalar_one()
    assert stored == queued == 4  # a refused request leaves nothing behind


async def test_the_limits_are_per_service(client: httpx.AsyncClient, runtime: Runtime, account: Account) -> None:
    other = await create_account(runtime)
    assert [(await _request(client, account)).status_code for _ in range(3)] == [202, 202, 429]
    assert (await _request(client, other)).status_code == 202


async def test_concurrent_requests_at_the_limit_exactly_one_wins(
    client: httpx.AsyncClient, runtime: Runtime, account: Account
) -> None:
    assert (await _request(client, account)).status_code == 202  # one slot of two left
    answers = await asyncio.gather(*(_request(client, account) for _ in range(6)))
    assert sorted(r.status_code for r in answers) == [202] + [429] * 5


async def test_a_racing_transaction_waits_for_the_lock_and_then_counts_the_winner(runtime: Runtime, account: Account) -> None:
    """Deterministic: the second creation blocks on the service's lock until the first commits."""
    limits = ExportLimits(max_concurrent=1, max_per_day=10)
    now = datetime.now(UTC)
    scope = ReportScope(service_id=account.service_id, since=now - timedelta(days=1))

    async def create(conn_now: datetime) -> None:
        async with runtime.engine.begin() as conn:
            await create_export(conn, scope, ttl=timedelta(hours=24), retention_days=7, limits=limits, now=conn_now)

    async with runtime.engine.begin() as first:
        await create_export(first, scope, ttl=timedelta(hours=24), retention_days=7, limits=limits, now=now)
        racer = asyncio.create_task(create(now))
        deadline = time.monotonic() + 10
        while True:  # observable: the racer is waiting on the advisory lock
            async with runtime.engine.connect() as conn:
                waiting = (await conn.execute(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                )).scalar_one()
            if waiting:
                break
            assert not racer.done(), racer
            assert time.monotonic() < deadline, "the second creation never waited for the first"
            await asyncio.sleep(0.02)
    with pytest.raises(ExportLimitExceeded):
        await racer
