"""A simulated week: send every day, then run retention night after night, and check what is left."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import httpx
from sqlalchemy import text

from notify.retention import RetentionReport, run_retention
from notify.runtime import Runtime
from tests.retention.week import Plan, day, night, send_day, upload_day
from tests.support.accounts import Account, create_account
from tests.support.pii_audit import PiiAudit

SEND_DAYS = 7
NIGHTS = 14
UPLOAD_DAY = 1


@dataclass
class ServiceWeek:
    account: Account
    retention: int
    plan: dict[int, Plan] = field(default_factory=dict)
    jobs: dict[uuid.UUID, int] = field(default_factory=dict)  # job -> day index

    def kept(self, day_index: int, night_index: int) -> bool:
        """The rule under test: rows of day d survive night n while d >= n - retention."""
        return day_index >= night_index - self.retention


async def _week(client: httpx.AsyncClient, runtime: Runtime, audit: PiiAudit, retention: int, number_base: int) -> ServiceWeek:
    account = await create_account(runtime)
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE services SET data_retention_days = :d WHERE id = :s"),
                           {"d": retention, "s": account.service_id})
    week = ServiceWeek(account, retention)
    for index in range(SEND_DAYS):
        plan, jobs = await send_day(client, runtime, account, audit, index=index, first_number=number_base + 3 * index)
        week.plan[index] = plan
        week.jobs.update(dict.fromkeys(jobs, index))
        if index == UPLOAD_DAY:
            extra, job_id = await upload_day(client, runtime, account, audit, index=index, first_number=number_base + 40)
            week.plan[index] += extra
            week.jobs[job_id] = index
    return week


async def _facts(runtime: Runtime) -> dict[tuple[uuid.UUID, date], Plan]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT service_id, day, key_type, status, count FROM ft_notification_status")
        )
        found: dict[tuple[uuid.UUID, date], Plan] = {}
        for service_id, fact_day, key_type, status, count in rows:
            found.setdefault((service_id, fact_day), Counter())[(key_type, status)] += count
    return found


async def _fact_rows(runtime: Runtime) -> list[tuple[object, ...]]:
    async with runtime.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text("SELECT * FROM ft_notification_status ORDER BY 1, 2, 3, 4, 5, 6, 7"))]


async def _rows_per_day(runtime: Runtime) -> Counter[tuple[uuid.UUID, date]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT service_id, CAST(created_at AT TIME ZONE 'UTC' AS date), count(*) FROM notifications GROUP BY 1, 2")
        )
        return Counter({(s, d): n for s, d, n in rows})


async def _jobs(runtime: Runtime) -> dict[uuid.UUID, tuple[str, bool]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, object_key, archived_at IS NOT NULL FROM jobs"))
        return {job_id: (key, archived) for job_id, key, archived in rows}


async def _check_night(runtime: Runtime, weeks: list[ServiceWeek], n: int) -> None:
    facts = await _facts(runtime)
    rows = await _rows_per_day(runtime)
    jobs = await _jobs(runtime)
    for week in weeks:
        sid = week.account.service_id
        for index, plan in week.plan.items():
            # Facts: every complete day (before day n) matches what was sent, deleted or not.
            assert facts.get((sid, day(index))) == (plan if index < n else None), (week.retention, n, index)
            # Rows: kept for exactly the retention period, whole days at a time.
            expected_rows = sum(plan.values()) if week.kept(index, n) else 0
            assert rows.get((sid, day(index)), 0) == expected_rows, (week.retention, n, index)
        for job_id, index in week.jobs.items():
            key, archived = jobs[job_id]
            assert archived is not week.kept(index, n), (week.retention, n, index)
            assert await runtime.store.exists(key) is week.kept(index, n), (week.retention, n, index, key)


def _zero(report: RetentionReport) -> bool:
    counts = report.as_dict()
    return all(counts[k] == 0 for k in (
        "facts_upserted", "facts_removed", "days_closed", "notifications_deleted", "jobs_archived", "objects_deleted",
    ))


async def test_a_simulated_week_of_retention(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    weekly = await _week(client, runtime, pii_audit, retention=7, number_base=101)
    short = await _week(client, runtime, pii_audit, retention=3, number_base=150)
    weeks = [weekly, short]
    assert len(weekly.jobs) >= SEND_DAYS + 1  # an API batch (or more) per day, and the upload
    deleted_so_far = 0

    for n in range(1, NIGHTS + 1):
        before = await _rows_per_day(runtime)
        report = await run_retention(runtime.engine, runtime.store, now=night(n), batch_size=3)
        await _check_night(runtime, weeks, n)
        after = await _rows_per_day(runtime)
        assert report.notifications_deleted == sum(before.values()) - sum(after.values())
        assert report.jobs_archived == report.upload_objects_deleted
        deleted_so_far += report.notifications_deleted
        if n <= SEND_DAYS:
            assert report.facts_upserted > 0  # day n - 1 was completed tonight

        facts = await _fact_rows(runtime)
        again = await run_retention(runtime.engine, runtime.store, now=night(n), batch_size=3)
        assert _zero(again), again  # idempotent: the same night again changes nothing
        assert await _fact_rows(runtime) == facts
        await _check_night(runtime, weeks, n)

        if n == 5:  # three days' retention expires sooner than seven
            rows = await _rows_per_day(runtime)
            assert rows[(short.account.service_id, day(0))] == 0 and rows[(short.account.service_id, day(1))] == 0
            assert rows[(weekly.account.service_id, day(0))] == sum(weekly.plan[0].values())

    assert deleted_so_far == sum(sum(p.values()) for w in weeks for p in w.plan.values())
    assert sum((await _rows_per_day(runtime)).values()) == 0
    async with runtime.engine.connect() as conn:
        closed = (await conn.execute(text("SELECT count(*) FROM ft_closed_days"))).scalar_one()
    assert closed == 2 * SEND_DAYS
