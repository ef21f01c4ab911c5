"""The hard cases of the purge: an interrupted run, late status changes, jobs whose rows come later."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import time

import httpx
from sqlalchemy import text

from notify.retention import run_retention
from notify.retention.facts import roll_up_day
from notify.retention.purge import delete_expired_notifications
from notify.runtime import Runtime
from notify.storage import upload_key
from tests.retention.week import at, day, night, phone, send_day
from tests.support.accounts import create_account
from tests.support.jobs import csv_bytes, upload, wait_until_all_final
from tests.support.pii_audit import PiiAudit


async def _set_retention(runtime: Runtime, service_id: uuid.UUID, days: int) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE services SET data_retention_days = :d WHERE id = :s"), {"d": days, "s": service_id})


async def _day_facts(runtime: Runtime, service_id: uuid.UUID, day_index: int) -> Counter[tuple[str, str]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT key_type, status, sum(count) FROM ft_notification_status WHERE service_id = :s AND day = :d "
                 "GROUP BY key_type, status"),
            {"s": service_id, "d": day(day_index)},
        )
        return Counter({(k, s): n for k, s, n in rows})


async def _count(runtime: Runtime, sql: str, **params: object) -> int:
    async with runtime.engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def test_an_interrupted_purge_never_shrinks_facts(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    account = await create_account(runtime)
    sid = account.service_id
    plan, jobs = await send_day(client, runtime, account, pii_audit, index=0, first_number=301)

    report = await run_retention(runtime.engine, runtime.store, now=night(1))
    assert await _day_facts(runtime, sid, 0) == plan and report.notifications_deleted == 0

    # A late receipt while the day is still kept: the day is recomputed, and the emptied group goes.
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE notifications SET status = 'technical-failure' "
                                "WHERE service_id = :s AND status = 'permanent-failure'"), {"s": sid})
    late = await run_retention(runtime.engine, runtime.store, now=night(1))
    assert (late.facts_upserted, late.facts_removed) == (1, 1)
    plan = plan - Counter({("normal", "permanent-failure"): 1}) + Counter({("normal", "technical-failure"): 1})
    assert await _day_facts(runtime, sid, 0) == plan

    # A run that closed day 0 and deleted one batch, then died.
    await _set_retention(runtime, sid, 1)
    async with runtime.engine.begin() as conn:
        assert (await roll_up_day(conn, sid, day(0), close=True, now=night(2))).closed
    async with runtime.engine.begin() as conn:
        assert await delete_expired_notifications(conn, sid, at(1, time(0)), limit=2) == 2
    assert await _count(runtime, "SELECT count(*) FROM notifications WHERE service_id = :s", s=sid) == 2

    # Even if the service now keeps data longer, the half-deleted day is never recomputed.
    await _set_retention(runtime, sid, 7)
    kept = await run_retention(runtime.engine, runtime.store, now=night(2))
    assert (kept.facts_upserted, kept.facts_removed, kept.notifications_deleted) == (0, 0, 0)
    assert await _day_facts(runtime, sid, 0) == plan

    await _set_retention(runtime, sid, 1)
    resumed = await run_retention(runtime.engine, runtime.store, now=night(2))
    assert (resumed.facts_upserted, resumed.notifications_deleted, resumed.jobs_archived) == (0, 2, len(jobs))
    assert await _day_facts(runtime, sid, 0) == plan
    assert await _count(runtime, "SELECT count(*) FROM notifications WHERE service_id = :s", s=sid) == 0


async def test_a_job_keeps_its_object_until_its_rows_and_its_schedule_have_expired(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    account = await create_account(runtime)
    sid = account.service_id
    await _set_retention(runtime, sid, 1)
    # A job uploaded on day 0 whose rows were only created on day 3 (it was processed late).
    _, jobs = await send_day(client, runtime, account, pii_audit, index=3, first_number=311)
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE jobs SET created_at = :at WHERE id = ANY(:ids)"), {"at": at(0), "ids": list(jobs)})
    # A job uploaded on day 0 for day 4 that has not started: no rows yet.
    scheduled = uuid.uuid4()
    key = upload_key(sid, scheduled)
    await runtime.store.put(key, b"phone number,name,day\r\n")
    async with runtime.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO jobs (id, service_id, kind, object_key, row_count, status, created_at, scheduled_for) "
                 "VALUES (:id, :s, 'upload', :key, 1, 'scheduled', :created, :scheduled)"),
            {"id": scheduled, "s": sid, "key": key, "created": at(0), "scheduled": at(4, time(9))},
        )
    keys = {job_id: upload_key(sid, job_id) for job_id in jobs}

    early = await run_retention(runtime.engine, runtime.store, now=night(3))  # cutoff: day 2
    assert early.jobs_archived == 0
    assert all([await runtime.store.exists(k) for k in keys.values()]) and await runtime.store.exists(key)

    rows_gone = await run_retention(runtime.engine, runtime.store, now=night(5))  # cutoff: day 4, 00:00
    assert (rows_gone.notifications_deleted, rows_gone.jobs_archived) == (4, len(jobs))
    assert not any([await runtime.store.exists(k) for k in keys.values()])
    assert await runtime.store.exists(key)  # scheduled for day 4 09:00: not expired yet

    schedule_gone = await run_retention(runtime.engine, runtime.store, now=night(6))
    assert schedule_gone.jobs_archived == schedule_gone.upload_objects_deleted == 1
    assert not await runtime.store.exists(key)
    assert await _count(runtime, "SELECT count(*) FROM jobs WHERE service_id = :s AND archived_at IS NULL", s=sid) == 0
    assert await _count(runtime, "SELECT count(*) FROM jobs WHERE service_id = :s", s=sid) == len(jobs) + 1


async def test_an_expired_job_keeps_neither_its_file_name_nor_its_header(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    """The file name and column names are the team's words about the people in the file: gone with it."""
    account = await create_account(runtime)
    await _set_retention(runtime, account.service_id, 1)
    rows = [[phone(331), "Okafor Resident", "Friday", "Household Okafor-Mbeki"]]
    pii_audit.track(rows[0][0])
    pii_audit.track_personalisation(*rows[0][1:])
    header = ["phone number", "name", "day", "Mbeki family caseworker"]
    response = await upload(client, account, csv_bytes(rows, header=header), filename="okafor-mbeki-household.csv")
    assert response.status_code == 201, response.text
    job_id = response.json()["data"]["id"]
    assert response.json()["data"]["name"] == "okafor-mbeki-household.csv"
    await wait_until_all_final(client, account, job_id)
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE notifications SET created_at = :at WHERE job_id = :j"), {"at": at(0), "j": job_id})
        await conn.execute(text("UPDATE jobs SET created_at = :at WHERE id = :j"), {"at": at(0), "j": job_id})

    report = await run_retention(runtime.engine, runtime.store, now=night(3))
    assert report.jobs_archived == 1
    async with runtime.engine.connect() as conn:
        kept = (await conn.execute(text("SELECT jobs::text FROM jobs WHERE id = :j"), {"j": job_id})).scalar_one()
    assert "okafor" not in kept.lower() and "mbeki" not in kept.lower()
    job = (await client.get(f"/v2/jobs/{job_id}", headers=account.headers())).json()["data"]
    assert (job["name"], job["row_count"]) == (None, 1)  # the job itself, and its counts, stay
