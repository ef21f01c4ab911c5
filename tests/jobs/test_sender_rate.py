"""The per-sender rate limit applies to job delivery, shared by every worker (two apps here)."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import text

from notify.app import create_app
from notify.config import Settings
from tests.support.accounts import create_account
from tests.support.jobs import csv_bytes, sms_rows, wait_until_all_final
from tests.support.pii_audit import PiiAudit


async def test_two_workers_together_keep_to_the_senders_rate(settings: Settings, pii_audit: PiiAudit) -> None:
    limited = settings.model_copy(update={"sms_sender_rate": 100.0, "chunk_rows": 100, "claim_rows": 50})
    rows = sms_rows(400, start=6000)
    pii_audit.track(*(r[0] for r in rows[:5]))
    first, second = create_app(limited, run_worker=True), create_app(limited, run_worker=True)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        account = await create_account(first.state.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://t") as client:
            started = time.monotonic()
            job = (await client.post(
                "/v2/jobs", data={"template_id": str(account.sms_template_id)},
                files={"file": ("r.csv", csv_bytes(rows), "text/csv")}, headers=account.headers(),
            )).json()["data"]
            await wait_until_all_final(client, account, job["id"], timeout=30)
            elapsed = time.monotonic() - started
        async with first.state.runtime.engine.connect() as conn:
            buckets = (await conn.execute(text("SELECT bucket, tokens FROM send_rate_buckets"))).all()
    # Every send of the job was taken from one shared bucket, and the job drained it: the time
    # below is the limit's doing, not a slow machine's.
    assert [b.bucket.split(":")[0] for b in buckets] == ["sms"], buckets
    assert buckets[0].tokens < 50, buckets
    # A full bucket (100) goes at once, the other 300 at 100/s: about 3 s, whichever worker sends.
    assert elapsed >= 2.5, elapsed
