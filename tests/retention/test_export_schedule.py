"""The deployed export schedule: the worker's periodic sweep, and the nightly run's TTL, as configured.

Not the functions alone: these read the periodic tasks registered on the worker's own App, let
the periodic deferrer defer them as a running worker would, and watch the store until the
expired export object is really gone.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy import text

from notify.config import Settings
from notify.runtime import Runtime
from notify.storage import export_key
from tests.support.accounts import Account
from tests.support.exports import ready_export


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"export_ttl_hours": 1})


async def _wait_gone(runtime: Runtime, key: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while await runtime.store.exists(key):
        assert time.monotonic() < deadline, f"{key} is still in the store"
        await asyncio.sleep(0.05)


async def test_the_worker_sweeps_expired_exports_every_minute(
    client: httpx.AsyncClient, runtime: Runtime, account: Account
) -> None:
    periodic = runtime.queue.periodic_registry.periodic_tasks[("sweep_exports", "exports")]
    assert periodic.cron == "* * * * *"
    assert (periodic.task.queueing_lock, periodic.task.lock) == ("sweep_exports", "sweep_exports")

    export = await ready_export(client, account, days=1)
    key = export_key(account.service_id, uuid.UUID(export["id"]))
    assert await runtime.store.exists(key)
    async with runtime.engine.begin() as conn:  # its expiry has just passed
        await conn.execute(text("UPDATE report_exports SET expires_at = now() - interval '1 second' WHERE id = :id"),
                           {"id": export["id"]})

    deferrer = PeriodicDeferrer(registry=runtime.queue.periodic_registry)
    await deferrer.defer_jobs([(periodic, int(time.time()))])
    await _wait_gone(runtime, key)
    gone = await client.get(f"/v2/reports/{export['id']}", headers=account.headers())
    assert gone.status_code == 410
    assert (await client.get(f"/v2/reports/{export['id']}/content", headers=account.headers())).status_code == 410


async def test_the_nightly_run_deletes_exports_by_the_configured_ttl(runtime: Runtime, account: Account) -> None:
    """NOTIFY_EXPORT_TTL_HOURS=1 here: an export object two hours old goes in the nightly run too."""
    key = export_key(account.service_id, uuid.uuid4())  # an object no row knows about: only its age says
    await runtime.store.put(key, b"Row,Status\r\n")
    periodic = runtime.queue.periodic_registry.periodic_tasks[("run_retention", "nightly")]
    deferrer = PeriodicDeferrer(registry=runtime.queue.periodic_registry)
    await deferrer.defer_jobs([(periodic, int((datetime.now(UTC) + timedelta(hours=2)).timestamp()))])
    await _wait_gone(runtime, key)
