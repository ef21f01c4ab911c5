"""Scheduled jobs start on time; scheduled and running jobs can be cancelled."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from notify.runtime import Runtime
from notify.sending.providers.simulated import SimulatedProvider
from tests.support.accounts import Account
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_for_job
from tests.support.pii_audit import PiiAudit


async def queued_starts(runtime: Runtime, job_id: str) -> list[datetime]:
    """When the job's start task is due, for each start task still waiting or running in the queue."""
    async with runtime.engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = 'start_job'"
            " AND args ->> 'job_id' = :id AND status IN ('todo', 'doing')"
        ), {"id": job_id})).scalars())


async def wait_for_start_task_to_run(runtime: Runtime, job_id: str, timeout: float = 20.0) -> None:
    """The worker has taken and finished the scheduled start (successful tasks leave the queue)."""
    deadline = time.monotonic() + timeout
    while starts := await queued_starts(runtime, job_id):
        assert time.monotonic() < deadline, f"the start task, due at {starts}, never ran"
        await asyncio.sleep(0.05)


async def test_a_scheduled_job_waits_then_starts_on_time(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(3)
    pii_audit.track(*(r[0] for r in rows))
    at = datetime.now(UTC) + timedelta(seconds=2)
    job = (await upload(client, account, csv_bytes(rows), fields={"scheduled_for": at.isoformat()})).json()["data"]
    assert job["status"] == "scheduled"
    assert job["scheduled_for"].startswith(at.strftime("%Y-%m-%dT%H:%M:%S"))
    # What makes it wait: its start task is queued to run no earlier than the scheduled time.
    (due,) = await queued_starts(runtime, job["id"])
    assert abs((due - at).total_seconds()) < 0.001, (due, at)
    assert (await client.get(f"/v2/jobs/{job['id']}", headers=account.headers())).json()["data"]["status"] == "scheduled"
    assert list(provider.sent) == []
    finished = await wait_for_job(client, account, job["id"], timeout=20)
    started = datetime.fromisoformat(finished["processing_started"].replace("Z", "+00:00"))
    assert started >= at
    assert len(provider.sent) == 3


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (timedelta(hours=-1), "scheduled_for datetime cannot be in the past"),
        (timedelta(hours=97), "scheduled_for datetime can only be up to 96 hours in the future"),
    ],
)
async def test_schedule_limits(
    client: httpx.AsyncClient, account: Account, when: timedelta, message: str
) -> None:
    at = (datetime.now(UTC) + when).isoformat()
    response = await upload(client, account, csv_bytes(sms_rows(1)), fields={"scheduled_for": at})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message
    bad = await upload(client, account, csv_bytes(sms_rows(1)), fields={"scheduled_for": "next tuesday"})
    assert bad.status_code == 400


async def test_cancelling_a_scheduled_job_sends_nothing(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(2)
    pii_audit.track(*(r[0] for r in rows))
    at = datetime.now(UTC) + timedelta(seconds=2)
    job = (await upload(client, account, csv_bytes(rows), fields={"scheduled_for": at.isoformat()})).json()["data"]
    cancelled = await client.post(f"/v2/jobs/{job['id']}/cancel", headers=account.headers())
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    assert await queued_starts(runtime, job["id"]), "the start task should still be waiting for its time"
    await wait_for_start_task_to_run(runtime, job["id"])  # it ran at the scheduled time, and found the job cancelled
    after = (await client.get(f"/v2/jobs/{job['id']}", headers=account.headers())).json()["data"]
    assert after["status"] == "cancelled"
    assert after["statistics"] == []
    assert list(provider.sent) == []
    again = await client.post(f"/v2/jobs/{job['id']}/cancel", headers=account.headers())
    assert again.status_code == 400
    assert again.json()["errors"][0]["message"] == "Job is cancelled and can no longer be cancelled"


async def test_finished_jobs_cannot_be_cancelled(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    pii_audit.track("(202) 555-0200")
    job = (await upload(client, account, csv_bytes(sms_rows(1)))).json()["data"]
    await wait_for_job(client, account, job["id"])
    refused = await client.post(f"/v2/jobs/{job['id']}/cancel", headers=account.headers())
    assert refused.status_code == 400


async def test_a_job_whose_file_vanished_before_it_started_is_an_error(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, runtime: Any, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(2)
    pii_audit.track(*(r[0] for r in rows))
    at = datetime.now(UTC) + timedelta(seconds=1)
    job = (await upload(client, account, csv_bytes(rows), fields={"scheduled_for": at.isoformat()})).json()["data"]
    async for info in runtime.store.list("uploads/"):
        await runtime.store.delete(info.key)
    errored = await wait_for_job(client, account, job["id"], status="error", timeout=20)
    assert errored["statistics"] == []
    assert list(provider.sent) == []
