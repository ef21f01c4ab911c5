"""Kill real worker processes mid-job, several times: every row gets exactly one notification and
no message reaches the provider twice.

The workers are separate `notify worker` processes killed with SIGKILL (no chance to clean up).
The simulated provider appends each accepted message's reference to a shared log file, so the
test can see every send across all the processes that ever ran.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from notify.app import create_app
from notify.config import Settings
from notify.sending.deliver import IN_DOUBT
from tests.conftest import TEST_SECRET_KEY
from tests.support.accounts import create_account
from tests.support.jobs import csv_bytes, sms_rows
from tests.support.pii_audit import PiiAudit

ROWS = 3000
CLAIM_ROWS = 50


def _worker_env(settings: Settings, send_log: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_")}
    env.update(
        NOTIFY_DATABASE_URL=settings.database_url or "",
        NOTIFY_STORAGE_URL=settings.resolved_storage_url,
        NOTIFY_SECRET_KEY=TEST_SECRET_KEY,
        NOTIFY_DATA_DIR=str(settings.data_dir),
        NOTIFY_SIMULATED_SEND_LATENCY_MS="10",
        NOTIFY_SIMULATED_DELIVERY_DELAY_MS="0",
        NOTIFY_SIMULATED_SEND_LOG=str(send_log),
        NOTIFY_STALLED_WORKER_SECONDS="1",
        NOTIFY_CLAIM_ROWS=str(CLAIM_ROWS),
        NOTIFY_CHUNK_ROWS="500",
        NOTIFY_WORKER_CONCURRENCY="2",
        NOTIFY_LOG_LEVEL="WARNING",
    )
    return env


def _sends(send_log: Path) -> int:
    return len(send_log.read_text().split()) if send_log.exists() else 0


async def _wait_for_sends(send_log: Path, at_least: int, timeout: float = 60.0) -> int:
    """Wait until the provider has logged ``at_least`` sends in all: the worker is mid-delivery."""
    deadline = time.monotonic() + timeout
    while (sent := _sends(send_log)) < at_least:
        assert time.monotonic() < deadline, f"only {sent} sends logged, waited for {at_least}"
        await asyncio.sleep(0.02)
    return sent


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The worker's output goes to a file under the test's directory, which the PII audit scans."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "notify", "worker"], env=env, stdout=out, stderr=out)


@pytest.mark.local_store  # its store is built here on the local disk
@pytest.mark.slow
async def test_killed_workers_never_send_twice_and_the_job_finishes(
    settings: Settings, tmp_path: Path, pii_audit: PiiAudit
) -> None:
    send_log = tmp_path / "sends.log"
    rows = sms_rows(ROWS, start=1000)
    pii_audit.track(*(r[0] for r in rows[:20]))
    api = create_app(settings)  # no in-process worker: only the killable processes deliver
    async with api.router.lifespan_context(api):
        runtime = api.state.runtime
        account = await create_account(runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://api") as client:
            response = await client.post(
                "/v2/jobs",
                data={"template_id": str(account.sms_template_id)},
                files={"file": ("big.csv", csv_bytes(rows), "text/csv")},
                headers=account.headers(),
            )
        assert response.status_code == 201, response.text
        job_id = response.json()["data"]["id"]

        env = _worker_env(settings, send_log)
        kills = 0
        killed_workers_sent: list[int] = []
        # Each worker is killed once it has handed this many more messages to the provider: the
        # first in its first claim, the others further into a chunk. Not a multiple of a claim,
        # so a claim is in flight at the kill.
        for progress in (7, 33, 71):
            before = _sends(send_log)
            worker = _start_worker(env, tmp_path / f"worker-{kills}.log")
            try:
                await _wait_for_sends(send_log, before + progress)
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
            killed_workers_sent.append(_sends(send_log) - before)
            kills += 1
        assert all(n >= p for n, p in zip(killed_workers_sent, (7, 33, 71), strict=True)), killed_workers_sent

        final = _start_worker(env, tmp_path / "worker-final.log")
        try:
            deadline = time.monotonic() + 90
            status = ""
            unfinished = -1
            while time.monotonic() < deadline:
                async with runtime.engine.connect() as conn:
                    status = (await conn.execute(text("SELECT status FROM jobs WHERE id = :id"), {"id": job_id})).scalar_one()
                    unfinished = (await conn.execute(text(
                        "SELECT count(*) FROM notifications WHERE job_id = :id AND status IN ('created', 'sending')"
                    ), {"id": job_id})).scalar_one()
                if status == "finished" and unfinished == 0:
                    break
                await asyncio.sleep(0.2)
            assert status == "finished", f"job is {status!r} after the workers were restarted"
            assert unfinished == 0, "receipts never arrived for some notifications"
        finally:
            final.send_signal(signal.SIGTERM)
            try:
                final.wait(timeout=20)
            except subprocess.TimeoutExpired:
                final.kill()
        output = (tmp_path / "worker-final.log").read_text()
        assert "Traceback" not in output, output

        async with runtime.engine.connect() as conn:
            notifications = (
                await conn.execute(
                    text("SELECT id::text, job_row_number, status, provider_response FROM notifications WHERE job_id = :id"),
                    {"id": job_id},
                )
            ).all()

    sends = collections.Counter(send_log.read_text().split())
    duplicates = {ref: n for ref, n in sends.items() if n > 1}
    assert not duplicates, f"sent more than once: {list(duplicates.items())[:5]}"
    assert len(notifications) == ROWS
    assert {n.job_row_number for n in notifications} == set(range(ROWS))
    statuses = collections.Counter(n.status for n in notifications)
    assert set(statuses) <= {"delivered", "technical-failure"}, statuses
    delivered = {n.id for n in notifications if n.status == "delivered"}
    assert delivered <= set(sends), "a delivered notification was never handed to the provider"
    in_doubt = [n for n in notifications if n.status == "technical-failure"]
    assert all(n.provider_response == IN_DOUBT for n in in_doubt)
    # Each kill can leave at most one claim per concurrent task in doubt, and the kills landed
    # mid-claim: messages handed over but not yet recorded are in doubt, never resent.
    assert 0 < len(in_doubt) <= kills * CLAIM_ROWS * 2, len(in_doubt)
