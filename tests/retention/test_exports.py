"""Export objects expire at their expiry (24 hours at most), and never outlive the rows they copy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import text

from notify.reports.exports import ExportLimits, ExportStatus, create_export, get_export, write_export
from notify.reports.query import ReportScope
from notify.retention import run_retention, sweep_exports
from notify.retention.expiry import day_start, utc_today
from notify.runtime import Runtime
from notify.storage import ObjectStore, export_key
from tests.retention.week import backdate
from tests.support.accounts import Account, create_account
from tests.support.exports import ready_export
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sending import send


async def test_exports_expire_after_their_ttl_and_never_outlive_retention(runtime: Runtime) -> None:
    short = await create_account(runtime)
    weekly = await create_account(runtime)
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE services SET data_retention_days = 1 WHERE id = :s"), {"s": short.service_id})
    keys = {
        "short": export_key(short.service_id, uuid.uuid4()),
        "weekly": export_key(weekly.service_id, uuid.uuid4()),
        "unknown service": export_key(uuid.uuid4(), uuid.uuid4()),
        "odd name": "exports/not-a-service/report.csv",
    }
    for key in keys.values():
        await runtime.store.put(key, b"Row,Status\r\n1,Delivered\r\n")
    written = max([(await runtime.store.head(k)).last_modified for k in keys.values()])

    async def left() -> set[str]:
        return {name for name, key in keys.items() if await runtime.store.exists(key)}

    assert await sweep_exports(runtime.engine, runtime.store, now=written + timedelta(hours=1)) == 0
    # A TTL longer than one day's retention: the retention wins for the short service only.
    later = written + timedelta(days=3)
    assert await sweep_exports(runtime.engine, runtime.store, now=later, ttl_hours=1000) == 1
    assert await left() == {"weekly", "unknown service", "odd name"}

    report = await run_retention(runtime.engine, runtime.store, now=written + timedelta(hours=24, seconds=1))
    assert report.export_objects_deleted == report.objects_deleted == 3
    assert await left() == set()
    assert (await run_retention(runtime.engine, runtime.store, now=later)).export_objects_deleted == 0


async def _send_and_backdate(
    client: httpx.AsyncClient, runtime: Runtime, account: Account, audit: PiiAudit, number: str, moment: datetime
) -> None:
    audit.track(number)
    audit.track_personalisation("Friday")  # what tests.support.sending.send personalises with
    notification_id = await send(client, account, number)
    await wait_for_status(client, account, notification_id, "delivered")
    await backdate(runtime, [uuid.UUID(notification_id)], moment)


async def _set_retention(runtime: Runtime, service_id: uuid.UUID, days: int) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE services SET data_retention_days = :d WHERE id = :s"), {"d": days, "s": service_id})


async def test_an_export_never_outlives_the_oldest_row_it_holds(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    account = await create_account(runtime)
    await _set_retention(runtime, account.service_id, 1)
    today = utc_today(datetime.now(UTC))
    await _send_and_backdate(client, runtime, account, pii_audit, "+12025550261",
                             day_start(today - timedelta(days=1)) + timedelta(minutes=30))
    export = await ready_export(client, account, days=3)
    # Kept one day, the row created yesterday expires at midnight tonight: so does its copy.
    assert datetime.fromisoformat(export["expires_at"].replace("Z", "+00:00")) == day_start(today + timedelta(days=1))
    key = export_key(account.service_id, uuid.UUID(export["id"]))
    assert "+12025550261" in (await runtime.store.get(key)).decode()

    assert await sweep_exports(runtime.engine, runtime.store, now=day_start(today + timedelta(days=1))) == 1
    assert not await runtime.store.exists(key)
    assert (await client.get(f"/v2/reports/{export['id']}", headers=account.headers())).status_code == 410


async def test_an_export_goes_when_its_service_then_keeps_data_for_less_time(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    account = await create_account(runtime)
    now = datetime.now(UTC)
    await _send_and_backdate(client, runtime, account, pii_audit, "+12025550262", now - timedelta(days=3))
    export = await ready_export(client, account, days=7)
    key = export_key(account.service_id, uuid.UUID(export["id"]))
    assert await sweep_exports(runtime.engine, runtime.store, now=now) == 0

    await _set_retention(runtime, account.service_id, 1)  # the row it holds has now expired
    assert await sweep_exports(runtime.engine, runtime.store, now=now) == 1
    assert not await runtime.store.exists(key)


class _SweptWhileWriting:
    """The real store, on which the export sweep runs as an export's upload starts (the race it must survive)."""

    def __init__(self, inner: ObjectStore, sweep: Callable[[], Awaitable[None]]) -> None:
        self._inner, self._sweep = inner, sweep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        await self._sweep()
        return await self._inner.put_stream(key, chunks)


async def test_an_export_expired_while_it_was_written_does_not_stay(runtime: Runtime) -> None:
    account = await create_account(runtime)
    now = datetime.now(UTC)
    scope = ReportScope(service_id=account.service_id, since=now - timedelta(days=1))
    async with runtime.engine.begin() as conn:
        export = await create_export(conn, scope, ttl=timedelta(hours=24), retention_days=7,
                                     limits=ExportLimits(10, 10), now=now)

    async def expire_now() -> None:
        async with runtime.engine.begin() as conn:
            await conn.execute(text("UPDATE report_exports SET expires_at = now() WHERE id = :id"), {"id": export.id})
        await sweep_exports(runtime.engine, runtime.store, now=datetime.now(UTC))

    await write_export(runtime.engine, cast(ObjectStore, _SweptWhileWriting(runtime.store, expire_now)), export.id)
    assert not await runtime.store.exists(export.object_key)
    async with runtime.engine.connect() as conn:
        assert (await get_export(conn, None, export.id)).status is ExportStatus.expired
