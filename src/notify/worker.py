"""Procrastinate task registry. Task arguments carry ids and statuses, never recipients."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import procrastinate
from sqlalchemy.exc import OperationalError

from notify.callbacks.destinations import CallbackDestinations
from notify.callbacks.dispatch import CallbackDispatcher, CallbackPolicy, callback_client
from notify.jobs.processing import finish_done_jobs, start_job
from notify.log_config import get_logger
from notify.receipts.apply import Receipt, apply_receipts, sweep_parked_receipts
from notify.receipts.timeouts import time_out_unanswered
from notify.reports.exports import write_export
from notify.retention import run_retention, sweep_exports
from notify.statuses import Status
from notify.storage import StorageUnavailable

if TYPE_CHECKING:
    from notify.runtime import Runtime

logger = get_logger(__name__)

EXPORT_SWEEP_CRON = "* * * * *"  # every minute: an export object outlives its expiry by a minute at most


def register_tasks(app: procrastinate.App, runtime: Runtime) -> None:
    """Tasks close over the runtime, so each App (one per runtime) has its own registry."""

    @app.task(name="deliver_rows", retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=1))
    async def deliver_rows(job_id: str, first_row: int, last_row: int) -> None:
        await runtime.deliverer.deliver_rows(uuid.UUID(job_id), first_row, last_row)

    @app.task(name="start_job", retry=procrastinate.RetryStrategy(max_attempts=10, exponential_wait=1))
    async def start_job_task(job_id: str) -> None:
        await start_job(
            runtime.engine, runtime.store, uuid.UUID(job_id), runtime.settings.chunk_rows, runtime.defer_delivery
        )

    @app.task(name="write_export", retry=procrastinate.RetryStrategy(max_attempts=3, exponential_wait=2))
    async def write_export_task(export_id: str) -> None:
        await write_export(runtime.engine, runtime.store, uuid.UUID(export_id))

    @app.task(name="apply_receipts", retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=1))
    async def apply_receipts_task(references: list[str], statuses: list[str]) -> None:
        async with runtime.engine.begin() as conn:
            await apply_receipts(conn, [Receipt(ref, Status(st)) for ref, st in zip(references, statuses, strict=True)])

    # Every minute: parked receipts whose send is now recorded, and notifications past the
    # receipt timeout. Both are cheap index lookups; the locks keep one run at a time.
    @app.periodic(cron="* * * * *", periodic_id="receipts")
    @app.task(name="receipt_housekeeping", queueing_lock="receipt_housekeeping", lock="receipt_housekeeping")
    async def receipt_housekeeping_task(timestamp: int) -> None:
        settings = runtime.settings
        async with runtime.engine.begin() as conn:
            await sweep_parked_receipts(conn, max_age_hours=settings.parked_receipt_max_age_hours)
        now = datetime.fromtimestamp(timestamp, UTC)
        await time_out_unanswered(runtime.engine, cutoff=now - timedelta(hours=settings.receipt_timeout_hours))

    # Every NOTIFY_JOB_SWEEP_SECONDS: finish running jobs whose chunks are all done. The last chunk
    # finishes its job itself (notify.jobs.processing.finish_chunk); this is the backstop.
    from notify.receipts.cloudwatch import poll_cron

    @app.periodic(cron=poll_cron(runtime.settings.job_sweep_seconds), periodic_id="jobs")
    @app.task(name="finish_done_jobs", queueing_lock="finish_done_jobs", lock="finish_done_jobs")
    async def finish_done_jobs_task(timestamp: int) -> None:
        await finish_done_jobs(runtime.engine)

    # Retention, nightly at 03:30 UTC: facts, then expired rows, then expired objects. Every
    # worker's deferrer may defer it; the database keeps one job per scheduled time, the queueing
    # lock one waiting job, and the lock one running job. The run is idempotent, so a retry or a
    # rerun of the night is harmless; only failures known to be transient are retried.
    @app.periodic(cron="30 3 * * *", periodic_id="nightly")
    @app.task(
        name="run_retention",
        queueing_lock="run_retention",
        lock="retention",
        retry=procrastinate.RetryStrategy(
            max_attempts=3, wait=300, retry_exceptions={StorageUnavailable, OperationalError}
        ),
    )
    async def run_retention_task(timestamp: int) -> None:
        await run_retention(
            runtime.engine, runtime.store, now=datetime.fromtimestamp(timestamp, UTC),
            export_ttl_hours=runtime.settings.export_ttl_hours,
        )

    # Report exports hold recipients, so they go at their expiry, not at the next nightly run:
    # every minute, the rows past their expires_at (or their data's retention), then any object
    # older than the TTL. One indexed query and one listing of exports/; locks as above.
    @app.periodic(cron=EXPORT_SWEEP_CRON, periodic_id="exports")
    @app.task(
        name="sweep_exports",
        queueing_lock="sweep_exports",
        lock="sweep_exports",
        retry=procrastinate.RetryStrategy(max_attempts=2, wait=10, retry_exceptions={StorageUnavailable, OperationalError}),
    )
    async def sweep_exports_task(timestamp: int) -> None:
        await sweep_exports(
            runtime.engine, runtime.store, now=datetime.fromtimestamp(timestamp, UTC),
            ttl_hours=runtime.settings.export_ttl_hours,
        )

    # CloudWatch delivery receipts (NOTIFY_CLOUDWATCH_RECEIPTS): a periodic task rather than a loop
    # in every worker, so the database keeps one waiting and one running poll across all workers,
    # and a worker that dies mid-poll is covered by the stalled-task recovery. Each run catches
    # every log group up from its persisted watermark, window by window; an unreadable window waits
    # for the next run, which is the back-off. See notify.receipts.cloudwatch.
    if runtime.settings.cloudwatch_receipts:
        from notify.receipts.cloudwatch import poll_cloudwatch, poll_cron

        @app.periodic(cron=poll_cron(runtime.settings.cloudwatch_poll_seconds), periodic_id="cloudwatch")
        @app.task(name="poll_cloudwatch_receipts", queueing_lock="poll_cloudwatch_receipts", lock="cloudwatch_receipts")
        async def poll_cloudwatch_task(timestamp: int) -> None:
            await poll_cloudwatch(runtime.engine, runtime.settings)

async def run_worker(runtime: Runtime, *, concurrency: int | None = None, handle_signals: bool = False) -> None:
    """Run tasks, and keep retrying the tasks of workers that died (killed, OOM, machine lost)."""
    stop = asyncio.Event()
    helpers = [asyncio.create_task(_recover_stalled_tasks(runtime, stop), name="stalled-task-recovery")]
    if runtime.settings.callbacks_enabled:
        helpers.append(asyncio.create_task(_dispatch_callbacks(runtime, stop), name="callback-dispatch"))
    try:
        await runtime.queue.run_worker_async(
            concurrency=concurrency or runtime.settings.worker_concurrency,
            install_signal_handlers=handle_signals,
            fetch_job_polling_interval=0.5,
            delete_jobs="successful",
            update_heartbeat_interval=max(runtime.settings.stalled_worker_seconds / 4, 0.5),
            stalled_worker_timeout=runtime.settings.stalled_worker_seconds,
        )
    finally:
        stop.set()
        for helper in helpers:
            helper.cancel()
        for helper in helpers:
            with contextlib.suppress(asyncio.CancelledError):
                await helper


async def _recover_stalled_tasks(runtime: Runtime, stop: asyncio.Event) -> None:
    """A task whose worker stopped heartbeating is put back in the queue; every task is idempotent.

    ``stop`` ends the loop even when a cancellation arrives mid-query and the driver turns it into
    an ordinary error (which the loop would otherwise log and carry on from).
    """
    manager = runtime.queue.job_manager
    interval = max(runtime.settings.stalled_worker_seconds / 2, 0.5)
    while not stop.is_set():
        try:
            for job in await manager.get_stalled_jobs(seconds_since_heartbeat=runtime.settings.stalled_worker_seconds):
                await manager.retry_job(job)
                logger.warning("retrying a stalled task", action="worker.stalled_retry", task=job.task_name,
                               task_id=job.id)
        except Exception as exc:  # keep recovering: the database may be briefly unavailable
            if stop.is_set():
                return
            logger.warning("stalled-task check failed", action="worker.stalled_check_failed", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def _dispatch_callbacks(runtime: Runtime, stop: asyncio.Event) -> None:
    """POST delivery-status callbacks from the outbox, apart from the task queue and receipts.

    A loop rather than a task: it wakes every ``callback_poll_seconds`` when idle and goes straight
    on while it keeps finding full batches, and several workers share the outbox through leases
    (notify.callbacks.claims). Callbacks claimed when the worker stops are retried once their
    lease ends. ``stop`` ends the loop as in ``_recover_stalled_tasks``.
    """
    settings = runtime.settings
    policy = CallbackPolicy.from_settings(settings)
    async with callback_client(policy) as client:
        dispatcher = CallbackDispatcher(
            engine=runtime.engine,
            store=runtime.store,
            secrets=runtime.secrets,
            client=client,
            policy=policy,
            default_region=settings.default_phone_region,
            destinations=CallbackDestinations.for_settings(settings),
        )
        while not stop.is_set():
            full = False
            try:
                full = (await dispatcher.dispatch_once()).claimed >= policy.batch_size
            except Exception as exc:  # keep going: the database or storage may be briefly unavailable
                if stop.is_set():
                    return
                logger.warning("callback round failed", action="callbacks.round_failed", error=type(exc).__name__)
            if full:
                await asyncio.sleep(0)  # let the worker's own tasks in between full rounds
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.callback_poll_seconds)
