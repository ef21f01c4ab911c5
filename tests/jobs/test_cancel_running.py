"""Cancelling a job while it sends: what was handed to the provider stays sent, the rest never goes."""

from __future__ import annotations

import httpx
import pytest

from notify.sending.providers.simulated import SimulatedProvider
from tests.support.accounts import Account
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_until_all_final
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_until


@pytest.fixture
def provider() -> SimulatedProvider:
    return SimulatedProvider(record=True, latency_seconds=0.05)


async def test_cancel_a_running_job(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(1200)
    pii_audit.track(*(r[0] for r in rows[:5]))
    job = (await upload(client, account, csv_bytes(rows))).json()["data"]
    await wait_until(lambda: provider.sent, "the first send of the job")
    response = await client.post(f"/v2/jobs/{job['id']}/cancel", headers=account.headers())
    assert response.status_code == 200, response.text
    # Claims already in flight finish; then every row is final and nothing more can be sent.
    after = await wait_until_all_final(client, account, job["id"])
    counts = {s["status"]: s["count"] for s in after["statistics"]}
    assert after["status"] == "cancelled"
    assert counts.get("cancelled", 0) > 0
    assert counts.get("created", 0) == 0
    assert sum(counts.values()) == 1200
    sent_ids = [m.reference for m in provider.sent]
    assert len(sent_ids) == len(set(sent_ids)) == 1200 - counts["cancelled"]
