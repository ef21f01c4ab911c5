"""A job whose chunks are all done ends 'finished', however many of them finish at the same moment.

Jobs are started here with a chunk deferrer that queues nothing, so the test alone decides when
chunks finish: on many real connections to PostgreSQL at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from notify.app import create_app
from notify.config import Settings
from notify.jobs.processing import finish_chunk, start_job
from notify.runtime import Runtime
from tests.support.accounts import Account, create_account
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_for_job
from tests.support.pii_audit import PiiAudit

CHUNKS = 6
JOBS = 12


async def _queue_nothing(conn: AsyncConnection, job_id: uuid.UUID, first: int, last: int) -> None:
    """Chunks are finished by the test itself, not by delivery tasks."""


@asynccontextmanager
async def _intake(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    app = create_app(settings)  # no worker
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield client, app.state.runtime


async def _running_job(client: httpx.AsyncClient, runtime: Runtime, account: Account, rows: list[list[str]]) -> str:
    response = await upload(client, account, csv_bytes(rows))
    assert response.status_code == 201, response.text
    job_id = response.json()["data"]["id"]
    assert await start_job(runtime.engine, runtime.store, uuid.UUID(job_id), 1, _queue_nothing)
    return str(job_id)


async def _statuses(engine: AsyncEngine, job_ids: list[str]) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id::text, status FROM jobs WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": job_ids}
        )
        return dict(rows.all())


async def test_the_last_chunks_finishing_at_once_finish_the_job_every_time(
    settings: Settings, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(CHUNKS, start=8100)
    pii_audit.track(*(r[0] for r in rows))
    async with _intake(settings) as (client, runtime):
        account = await create_account(runtime)
        job_ids = [await _running_job(client, runtime, account, rows) for _ in range(JOBS)]
        # One connection per chunk, so every chunk of every job really finishes at the same time.
        engine = create_async_engine(runtime.engine.url, poolclass=NullPool)
        try:
            async with engine.connect() as gate:
                # Hold every chunk until all the finishing transactions are waiting for it, then let go.
                await gate.execute(text("SELECT 1 FROM job_chunks WHERE job_id = ANY(CAST(:ids AS uuid[])) FOR SHARE"),
                                   {"ids": job_ids})
                waiting = 0

                async def finish(job_id: str, first_row: int) -> bool:
                    nonlocal waiting
                    async with engine.begin() as conn:
                        waiting += 1
                        return await finish_chunk(conn, uuid.UUID(job_id), first_row)

                tasks = [asyncio.create_task(finish(j, n)) for j in job_ids for n in range(CHUNKS)]
                while waiting < len(tasks):
                    await asyncio.sleep(0.01)
                await gate.commit()
                finished = await asyncio.gather(*tasks)
            statuses = await _statuses(runtime.engine, job_ids)
        finally:
            await engine.dispose()

    assert statuses == {j: "finished" for j in job_ids}
    assert sum(finished) == JOBS  # one chunk per job was the last, and said so


async def test_the_worker_sweep_finishes_a_job_left_in_progress(settings: Settings, pii_audit: PiiAudit) -> None:
    """The deployed periodic task: a running job whose chunks are all done is finished; others are not."""
    rows = sms_rows(3, start=8200)
    pii_audit.track(*(r[0] for r in rows))
    async with _intake(settings) as (client, runtime):
        account = await create_account(runtime)
        stuck, running = [await _running_job(client, runtime, account, rows) for _ in range(2)]
        async with runtime.engine.begin() as conn:
            # Every chunk delivered, but nothing finished the job: what the race used to leave.
            await conn.execute(text("UPDATE job_chunks SET done = true WHERE job_id = :id"), {"id": stuck})
            await conn.execute(text("UPDATE job_chunks SET done = true WHERE job_id = :id AND first_row < 2"),
                               {"id": running})

    worker = create_app(settings.model_copy(update={"job_sweep_seconds": 1}), run_worker=True)
    async with worker.router.lifespan_context(worker):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=worker), base_url="http://t") as client:
            await wait_for_job(client, account, stuck, timeout=20)
            # The sweep has run at least once since; a job with a chunk still to do is left running.
            still = (await client.get(f"/v2/jobs/{running}", headers=account.headers())).json()["data"]
    assert still["status"] == "in progress"
