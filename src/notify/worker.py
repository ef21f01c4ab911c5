"""Procrastinate task registry. Task arguments carry ids and statuses, never recipients."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import procrastinate

from notify.receipts.apply import Receipt, apply_receipts
from notify.statuses import Status

if TYPE_CHECKING:
    from notify.runtime import Runtime


def register_tasks(app: procrastinate.App, runtime: Runtime) -> None:
    """Tasks close over the runtime, so each App (one per runtime) has its own registry."""

    @app.task(name="deliver_rows", retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=1))
    async def deliver_rows(job_id: str, first_row: int, last_row: int) -> None:
        await runtime.deliverer.deliver_rows(uuid.UUID(job_id), first_row, last_row)

    @app.task(name="apply_receipts", retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=1))
    async def apply_receipts_task(references: list[str], statuses: list[str]) -> None:
        async with runtime.engine.begin() as conn:
            await apply_receipts(conn, [Receipt(ref, Status(st)) for ref, st in zip(references, statuses, strict=True)])


async def run_worker(runtime: Runtime, *, concurrency: int | None = None) -> None:
    await runtime.queue.run_worker_async(
        concurrency=concurrency or runtime.settings.worker_concurrency,
        install_signal_handlers=False,
        fetch_job_polling_interval=0.5,
        delete_jobs="successful",
    )
