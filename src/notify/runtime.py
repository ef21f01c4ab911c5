"""The runtime: every long-lived resource a process needs, opened once and closed once.

Built explicitly by the entry point (CLI, app lifespan or a test fixture) from a Settings object,
so nothing is a module-level singleton and tests can run several runtimes side by side.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import procrastinate
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notify.catalogue.cache import TtlCache
from notify.catalogue.templates import TemplateRecord
from notify.config import Settings
from notify.db.embedded import start_embedded_postgres
from notify.db.engine import create_engine
from notify.db.urls import libpq_url
from notify.receipts.apply import Receipt, apply_receipts
from notify.receipts.batcher import ReceiptBatcher
from notify.receipts.sns_webhook import SnsWebhook
from notify.secrets import SecretBox
from notify.sending.deliver import Deliverer
from notify.sending.group_commit import GroupCommitter
from notify.sending.provider_retry import RetryPolicy
from notify.sending.providers.base import EmailProvider, SmsProvider
from notify.sending.providers.registry import Providers, build_providers
from notify.sending.providers.simulated import SimulatedProvider
from notify.sending.rate_limit import SendRateLimiter
from notify.sending.senders import ServiceSenders
from notify.storage import ObjectStore, open_store


def resolve_database_url(settings: Settings) -> str:
    return settings.database_url or start_embedded_postgres(settings.data_dir)


def open_object_store(settings: Settings) -> ObjectStore:
    return open_store(
        settings.resolved_storage_url,
        endpoint=settings.storage_endpoint,
        region=settings.storage_region,
        access_key_id=settings.storage_access_key_id,
        secret_access_key=settings.storage_secret_access_key,
        allow_http=settings.storage_allow_http,
    )


@dataclass
class Caches:
    """Per-process caches of a service's own records (never recipients); see notify.catalogue.cache."""

    services: TtlCache[uuid.UUID, Any]
    templates: TtlCache[tuple[uuid.UUID, uuid.UUID], TemplateRecord | None]
    senders: TtlCache[uuid.UUID, ServiceSenders]

    @classmethod
    def for_settings(cls, settings: Settings) -> Caches:
        ttl, stale = settings.catalogue_cache_seconds, settings.catalogue_max_stale_seconds
        return cls(TtlCache(ttl, max_stale=stale), TtlCache(ttl, max_stale=stale), TtlCache(ttl, max_stale=stale))


@dataclass
class Runtime:
    settings: Settings
    database_url: str
    engine: AsyncEngine
    store: ObjectStore
    queue: procrastinate.App
    providers: Providers
    secrets: SecretBox
    caches: Caches = field(init=False)
    committer: GroupCommitter = field(init=False)
    receipt_batcher: ReceiptBatcher = field(init=False)
    sns_webhook: SnsWebhook = field(init=False)
    deliverer: Deliverer = field(init=False)

    def __post_init__(self) -> None:
        self.caches = Caches.for_settings(self.settings)
        self.committer = GroupCommitter(
            self.engine,
            self.store,
            self.defer_delivery,
            max_wait=self.settings.batch_max_wait_ms / 1000,
            max_size=self.settings.batch_max_size,
        )
        # A seen SNS id is kept while its message could still pass the age check: the max age plus
        # the allowed skew of SNS's clock, plus as much again for ours against the database's.
        self.receipt_batcher = ReceiptBatcher(
            self.engine,
            keep_seen_seconds=self.settings.sns_max_age_seconds + 2 * self.settings.sns_clock_skew_seconds,
            max_wait=self.settings.batch_max_wait_ms / 1000,
            max_size=self.settings.batch_max_size,
        )
        self.sns_webhook = SnsWebhook.for_settings(self.settings, self.engine, self.receipt_batcher)
        self.deliverer = Deliverer(
            engine=self.engine,
            store=self.store,
            providers=self.providers,
            receipts=self.schedule_simulated_receipts,
            email_from_domain=self.settings.email_from_domain,
            default_region=self.settings.default_phone_region,
            concurrency=self.settings.send_concurrency,
            claim_rows=self.settings.claim_rows,
            rate_limiter=SendRateLimiter(self.engine),
            sms_rate=self.settings.sms_sender_rate,
            email_rate=self.settings.email_sender_rate,
            retry=RetryPolicy(
                max_attempts=self.settings.provider_max_attempts,
                throttle_max_wait=self.settings.provider_throttle_max_wait_seconds,
                backoff_initial=self.settings.provider_backoff_initial_seconds,
                backoff_max=self.settings.provider_backoff_max_seconds,
            ),
        )

    async def defer_delivery(self, conn: AsyncConnection, job_id: uuid.UUID, first_row: int, last_row: int) -> None:
        """Enqueue on the caller's transaction, so the task exists if and only if its rows do."""
        raw = await conn.get_raw_connection()
        await self.queue.configure_task("deliver_rows", connection=raw.driver_connection).defer_async(
            job_id=str(job_id), first_row=first_row, last_row=last_row
        )

    async def defer_job_start(self, conn: AsyncConnection, job_id: uuid.UUID, at: datetime | None) -> None:
        """Enqueue a job's first task in the transaction that creates the job; scheduled jobs wait for ``at``."""
        raw = await conn.get_raw_connection()
        await self.queue.configure_task("start_job", connection=raw.driver_connection, schedule_at=at).defer_async(
            job_id=str(job_id)
        )

    async def defer_export(self, conn: AsyncConnection, export_id: uuid.UUID) -> None:
        raw = await conn.get_raw_connection()
        await self.queue.configure_task("write_export", connection=raw.driver_connection).defer_async(
            export_id=str(export_id)
        )

    async def schedule_simulated_receipts(self, conn: AsyncConnection, receipts: Sequence[Receipt]) -> None:
        """Receipts that a simulated outcome implies, committed with the send they belong to.

        With no delay they are applied in the caller's transaction; otherwise their task is
        enqueued on it. Either way a worker killed after the send was recorded cannot lose them.
        """
        delay = self.settings.simulated_delivery_delay_ms / 1000
        if not delay:
            await apply_receipts(conn, receipts)
            return
        raw = await conn.get_raw_connection()
        await self.queue.configure_task(
            "apply_receipts", connection=raw.driver_connection, schedule_in={"seconds": delay}
        ).defer_async(
            references=[r.provider_reference for r in receipts], statuses=[r.status.value for r in receipts]
        )


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    sms_provider: SmsProvider | None = None,
    email_provider: EmailProvider | None = None,
    store: ObjectStore | None = None,
) -> AsyncIterator[Runtime]:
    """Providers and the store can be injected (fakes in tests); by default they come from settings.

    An injected provider is registered under its own name and becomes the default for its kind.
    """
    from notify.worker import register_tasks

    database_url = resolve_database_url(settings)
    engine = create_engine(database_url, pool_size=settings.database_pool_size)
    simulated = SimulatedProvider(
        latency_seconds=settings.simulated_send_latency_ms / 1000,
        send_log=settings.simulated_send_log,
        default_region=settings.default_phone_region,
    )
    queue = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(database_url), min_size=1, max_size=4)
    )
    providers = build_providers(settings, simulated)
    providers.use_as_default(sms=sms_provider, email=email_provider)
    runtime = Runtime(
        settings=settings,
        database_url=database_url,
        engine=engine,
        store=store or open_object_store(settings),
        queue=queue,
        providers=providers,
        secrets=SecretBox(settings.ensure_secret_key()),
    )
    register_tasks(queue, runtime)
    try:
        async with queue.open_async():
            await runtime.committer.start()
            await runtime.receipt_batcher.start()
            try:
                yield runtime
            finally:
                await runtime.receipt_batcher.close()
                await runtime.committer.close()
    finally:
        await runtime.sns_webhook.aclose()
        providers.close()
        await engine.dispose()
