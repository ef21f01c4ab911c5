"""The nightly task: registered on each runtime's own App, deferred by the periodic deferrer, run by the worker."""

from __future__ import annotations

import asyncio
import time

import httpx
from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy import text

from notify.runtime import Runtime
from tests.retention.week import day, night, send_day
from tests.support.accounts import create_account
from tests.support.pii_audit import PiiAudit


async def test_the_worker_runs_the_deferred_nightly_task(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    account = await create_account(runtime)
    plan, _ = await send_day(client, runtime, account, pii_audit, index=0, first_number=321)
    periodic = runtime.queue.periodic_registry.periodic_tasks[("run_retention", "nightly")]
    assert periodic.cron == "30 3 * * *"
    assert (periodic.task.queueing_lock, periodic.task.lock) == ("run_retention", "retention")
    deferrer = PeriodicDeferrer(registry=runtime.queue.periodic_registry)
    timestamp = int(night(1).timestamp())
    await deferrer.defer_jobs([(periodic, timestamp)])
    await deferrer.defer_jobs([(periodic, timestamp)])  # a second worker deferring the same night

    deadline = time.monotonic() + 20
    while True:
        async with runtime.engine.connect() as conn:
            facts = (
                await conn.execute(
                    text("SELECT coalesce(sum(count), 0) FROM ft_notification_status WHERE service_id = :s AND day = :d"),
                    {"s": account.service_id, "d": day(0)},
                )
            ).scalar_one()
            waiting = (
                await conn.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'run_retention'"))
            ).scalar_one()
        if facts and not waiting:
            break
        assert time.monotonic() < deadline, "the worker never ran the nightly retention"
        await asyncio.sleep(0.1)
    assert facts == sum(plan.values())
    async with runtime.engine.connect() as conn:
        deferred = (
            await conn.execute(text("SELECT count(*) FROM procrastinate_periodic_defers WHERE task_name = 'run_retention'"))
        ).scalar_one()
    assert deferred == 1
