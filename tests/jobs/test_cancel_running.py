"""Cancelling a job while it sends: what was handed to the provider stays sent, the rest never goes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from notify.sending.providers.simulated import SimulatedProvider
from tests.support.accounts import Account
from tests.support.jobs import csv_bytes, sms_rows, upload
from tests.support.pii_audit import PiiAudit


@pytest.fixture
def provider() -> SimulatedProvider:
    return SimulatedProvider(record=True, latency_seconds=0.05)


async def test_cancel_a_running_job(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(1200)
    pii_audit.track(*(r[0] for r in rows[:5]))
    job = (await upload(client, account, csv_bytes(rows))).json()["data"]
    while not provider.sent:
        await asyncio.sleep(0.01)
    response = await client.post(f"/v2/jobs/{job['id']}/cancel", headers=account.headers())
    assert response.status_code == 200, response.text
    await asyncio.sleep(1.0)
    after = (await client.get(f"/v2/jobs/{job['id']}", headers=account.headers())).json()["data"]
    counts = {s["status"]: s["count"] for s in after["statistics"]}
    assert after["status"] == "cancelled"
    assert counts.get("cancelled", 0) > 0
    assert counts.get("created", 0) == 0
    assert sum(counts.values()) == 1200
    sent_ids = [m.reference for m in provider.sent]
    assert len(sent_ids) == len(set(sent_ids)) == 1200 - counts["cancelled"]
