"""Export objects expire by their own age: 24 hours, and never later than their service's retention."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from notify.retention import run_retention, sweep_exports
from notify.runtime import Runtime
from notify.storage import export_key
from tests.support.accounts import create_account


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
