"""Building a simulated week: send through the API, then move each day's rows back to "their" day.

Days are in the future (2031), so a real nightly run that a test worker happens to start can
never expire or roll up this data; the tests choose ``now`` themselves.
"""

from __future__ import annotations

import asyncio
import time as clock
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import httpx
from sqlalchemy import text

from notify.db.models import KeyType
from notify.runtime import Runtime
from notify.statuses import FINAL
from tests.support.accounts import Account
from tests.support.jobs import csv_bytes, upload, wait_for_job, wait_until_all_final
from tests.support.pii_audit import PiiAudit

DAY_ZERO = date(2031, 3, 3)
FAILING_NUMBER = "+14254147222"  # the simulated provider's permanent failure

Plan = Counter[tuple[str, str]]  # (key_type, status) -> count


def day(index: int) -> date:
    return DAY_ZERO + timedelta(days=index)


def at(index: int, moment: time = time(12)) -> datetime:
    return datetime.combine(day(index), moment, tzinfo=UTC)


def night(index: int) -> datetime:
    """03:30 UTC on day ``index``: the nightly run that follows day ``index - 1``."""
    return at(index, time(3, 30))


def phone(n: int) -> str:
    return f"+1202555{n:04d}"


async def _wait_final(runtime: Runtime, ids: list[uuid.UUID], timeout: float = 30.0) -> None:
    final = [s.value for s in FINAL]
    deadline = clock.monotonic() + timeout
    while clock.monotonic() < deadline:
        async with runtime.engine.connect() as conn:
            waiting = (
                await conn.execute(
                    text("SELECT count(*) FROM notifications WHERE id = ANY(:ids) AND NOT status = ANY(:final)"),
                    {"ids": ids, "final": final},
                )
            ).scalar_one()
        if waiting == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{waiting} notifications never reached a final status")


async def backdate(runtime: Runtime, ids: list[uuid.UUID], moment: datetime) -> set[uuid.UUID]:
    """Test set-up only: move notifications, and the jobs holding them, to ``moment``."""
    async with runtime.engine.begin() as conn:
        await conn.execute(text("UPDATE notifications SET created_at = :at WHERE id = ANY(:ids)"), {"at": moment, "ids": ids})
        jobs = (
            await conn.execute(
                text("UPDATE jobs SET created_at = :at WHERE id IN (SELECT job_id FROM notifications WHERE id = ANY(:ids)) "
                     "RETURNING id"),
                {"at": moment, "ids": ids},
            )
        ).scalars().all()
    return set(jobs)


async def send_day(
    client: httpx.AsyncClient, runtime: Runtime, account: Account, audit: PiiAudit, *, index: int, first_number: int
) -> tuple[Plan, set[uuid.UUID]]:
    """Two delivered and one failed live SMS, and one test-key SMS; all moved to day ``index``."""
    sends = [
        (phone(first_number), KeyType.normal),
        (phone(first_number + 1), KeyType.normal),
        (FAILING_NUMBER, KeyType.normal),
        (phone(first_number + 2), KeyType.test),
    ]
    ids: list[uuid.UUID] = []
    for number, key_type in sends:
        audit.track(number)
        name = f"Resident {first_number}"
        audit.track_personalisation(name)
        response = await client.post(
            "/v2/notifications/sms",
            json={"phone_number": number, "template_id": str(account.sms_template_id),
                  "personalisation": {"name": name, "day": "Monday"}},
            headers=account.headers(key_type),
        )
        assert response.status_code == 201, response.text
        ids.append(uuid.UUID(response.json()["id"]))
    await _wait_final(runtime, ids)
    jobs = await backdate(runtime, ids, at(index))
    plan: Plan = Counter({("normal", "delivered"): 2, ("normal", "permanent-failure"): 1, ("test", "delivered"): 1})
    return plan, jobs


async def upload_day(
    client: httpx.AsyncClient, runtime: Runtime, account: Account, audit: PiiAudit, *, index: int, first_number: int
) -> tuple[Plan, uuid.UUID]:
    """A three-row spreadsheet job, moved to day ``index``."""
    rows = [[phone(first_number + n), f"Upload person {first_number + n}", "Friday"] for n in range(3)]
    audit.track(*(r[0] for r in rows))
    audit.track_personalisation(*(r[1] for r in rows))
    response = await upload(client, account, csv_bytes(rows))
    assert response.status_code == 201, response.text
    job_id = response.json()["data"]["id"]
    await wait_for_job(client, account, job_id)
    await wait_until_all_final(client, account, job_id)
    async with runtime.engine.connect() as conn:
        ids = list((await conn.execute(text("SELECT id FROM notifications WHERE job_id = :j"), {"j": job_id})).scalars())
    assert len(ids) == 3
    await backdate(runtime, ids, at(index, time(18)))
    return Counter({("normal", "delivered"): 3}), uuid.UUID(job_id)
