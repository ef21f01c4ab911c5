"""Cancelling a running job tells the service about every message it cancelled, as any final status does.

GOV.UK Notify sends no callback for cancelled letters.  Here every final status queues the callback,
cancelled included: a service that follows its messages through callbacks otherwise never learns
what became of the ones a cancel stopped.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.app import create_app
from notify.config import Settings
from notify.jobs.processing import start_job
from tests.callbacks.support import register_callback, wait_for_empty_outbox
from tests.fixtures.callback_receiver import CallbackReceiver
from tests.support.accounts import create_account
from tests.support.jobs import csv_bytes, sms_rows, upload
from tests.support.pii_audit import PiiAudit


async def _queue_nothing(conn: AsyncConnection, job_id: uuid.UUID, first: int, last: int) -> None:
    """The job is running but no chunk is delivered: every row is still waiting when it is cancelled."""


async def test_cancelled_messages_get_their_callback(
    settings: Settings, callback_receiver: CallbackReceiver, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(4, start=8300)
    expected = {"+1" + "".join(ch for ch in r[0] if ch.isdigit()) for r in rows}
    pii_audit.track(*(r[0] for r in rows), *expected)
    app = create_app(settings, run_worker=True)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        account = await create_account(runtime)
        await register_callback(runtime, account, callback_receiver.url)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            later = (datetime.now(UTC) + timedelta(hours=48)).isoformat()
            response = await upload(client, account, csv_bytes(rows), fields={"scheduled_for": later})
            assert response.status_code == 201, response.text
            job_id = response.json()["data"]["id"]
            # Start it now (its scheduled task stays queued and will find it already running).
            assert await start_job(runtime.engine, runtime.store, uuid.UUID(job_id), 2, _queue_nothing)
            cancel = await client.post(f"/v2/jobs/{job_id}/cancel", headers=account.headers())
            assert cancel.status_code == 200, cancel.text
            received = await callback_receiver.wait_for(len(rows))
            await wait_for_empty_outbox(runtime)

    assert {r.body["status"] for r in received} == {"cancelled"}
    assert {r.body["to"] for r in received} == expected
    assert all(r.body["completed_at"] and r.body["sent_at"] is None for r in received)
