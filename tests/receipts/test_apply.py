"""The one batch applier: forward-only statuses, carriers kept, early receipts parked, timeouts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.config import Settings
from notify.db.engine import create_engine
from notify.receipts.apply import Receipt, apply_receipts, sweep_parked_receipts
from notify.receipts.timeouts import time_out_unanswered
from notify.runtime import Runtime
from notify.statuses import Status
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sending import recorded_references, send_sms


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The simulator's own receipts wait ten minutes, so these tests decide every receipt.
    return settings.model_copy(update={"simulated_delivery_delay_ms": 600_000})


async def _send(client: httpx.AsyncClient, account: Account, numbers: Sequence[str]) -> list[str]:
    ids = await send_sms(client, account, numbers)
    for notification_id in ids:
        await wait_for_status(client, account, notification_id, "sending")
    return ids


async def _references(engine: AsyncEngine, ids: Sequence[str]) -> list[str]:
    return await recorded_references(engine, ids)


async def _state(engine: AsyncEngine, notification_id: str) -> tuple[str, str | None, str | None]:
    async with engine.connect() as conn:
        row = (await conn.execute(
            text("SELECT status, carrier, provider_response FROM notifications WHERE id = :id"),
            {"id": notification_id},
        )).one()
    return row[0], row[1], row[2]


async def _apply(engine: AsyncEngine, *receipts: Receipt) -> None:
    async with engine.begin() as conn:
        await apply_receipts(conn, receipts)


async def test_statuses_only_move_forward_whatever_the_order(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    numbers = ["+12025550181", "+12025550182", "+12025550183"]
    pii_audit.track(*numbers)
    ids = await _send(client, account, numbers)
    early, late, twice = await _references(runtime.engine, ids)
    engine = runtime.engine

    await _apply(engine, Receipt(early, Status.delivered, "Verizon", "Message has been accepted by phone carrier"))
    await _apply(engine, Receipt(early, Status.pending, None, "queued at carrier"), Receipt(early, Status.sending))
    # Out of order inside one batch, and across batches.
    await _apply(engine, Receipt(late, Status.permanent_failure, "AT&T", "Phone carrier has blocked this message"),
                 Receipt(late, Status.pending))
    await _apply(engine, Receipt(twice, Status.pending, "T-Mobile"))
    await _apply(engine, Receipt(twice, Status.delivered), Receipt(twice, Status.delivered))

    assert await _state(engine, ids[0]) == ("delivered", "Verizon", "Message has been accepted by phone carrier")
    assert await _state(engine, ids[1]) == ("permanent-failure", "AT&T", "Phone carrier has blocked this message")
    assert (await _state(engine, ids[2]))[:2] == ("delivered", "T-Mobile")
    report = await client.get("/v2/reports/notifications.csv?days=1", headers=account.headers())
    assert report.status_code == 200
    assert "Carrier rejected" in report.text  # the human label for the AT&T block

    fetched = await wait_for_status(client, account, ids[0], "delivered")
    assert fetched["completed_at"]


async def test_the_sweep_applies_receipts_parked_in_a_race_and_drops_strays(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    pii_audit.track("+12025550184")
    (notification_id,) = await _send(client, account, ["+12025550184"])
    (reference,) = await _references(runtime.engine, [notification_id])
    async with runtime.engine.begin() as conn:
        # What a receipt committed just after its send's recording transaction looked leaves behind,
        # plus a receipt for a message we never sent.
        await conn.execute(text(
            "INSERT INTO parked_receipts (provider_reference, status, carrier, received_at) VALUES "
            "(:ref, 'delivered', 'Verizon', now()), ('not-ours', 'delivered', NULL, now() - interval '8 days'), "
            "('not-yet', 'delivered', NULL, now())"
        ), {"ref": reference})
        applied, dropped = await sweep_parked_receipts(conn, max_age_hours=168)
    assert (applied, dropped) == (1, 1)
    assert await _state(runtime.engine, notification_id) == ("delivered", "Verizon", None)
    async with runtime.engine.connect() as conn:
        left = (await conn.execute(text("SELECT provider_reference FROM parked_receipts"))).scalars().all()
    assert left == ["not-yet"]


async def test_notifications_without_a_receipt_time_out_as_temporary_failure(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    numbers = ["+12025550185", "+12025550186", "+12025550187"]
    pii_audit.track(*numbers)
    old, answered = await _send(client, account, numbers[:2])
    refs = await _references(runtime.engine, [old, answered])
    (recent,) = await _send(client, account, numbers[2:])
    await _references(runtime.engine, [recent])
    await _apply(runtime.engine, Receipt(refs[1], Status.delivered))
    await _apply(runtime.engine, Receipt(refs[0], Status.pending))
    async with runtime.engine.connect() as conn:
        sent = dict((await conn.execute(text("SELECT id::text, sent_at FROM notifications"))).all())
    assert sent[recent] > sent[old]
    # The sweep as it runs once the timeout has passed for the first two sends but not the third.
    cutoff = max(sent[old], sent[answered])

    assert await time_out_unanswered(runtime.engine, cutoff=cutoff) == 1
    # The next run starts from where this one stopped, and finds nothing new.
    assert await time_out_unanswered(runtime.engine, cutoff=cutoff + timedelta(microseconds=1)) == 0

    assert await _state(runtime.engine, old) == ("temporary-failure", None, "No receipt within the timeout")
    assert (await _state(runtime.engine, recent))[0] == "sending"
    assert (await _state(runtime.engine, answered))[0] == "delivered"
    fetched = await wait_for_status(client, account, old, "temporary-failure")
    assert fetched["completed_at"]
    report = await client.get("/v2/reports/notifications.csv?days=1&status=failed", headers=account.headers())
    assert "No delivery receipt from the carrier" in report.text
    # A late receipt after the timeout cannot resurrect it: failures are final.
    await _apply(runtime.engine, Receipt(refs[0], Status.delivered))
    assert (await _state(runtime.engine, old))[0] == "temporary-failure"
    # Once the third send's timeout passes too, the next run finds it.
    assert await time_out_unanswered(runtime.engine, cutoff=sent[recent]) == 1


async def test_the_timeout_sweep_skips_empty_windows_and_still_finds_an_old_send(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, database_url: str, pii_audit: PiiAudit
) -> None:
    """A first run (no watermark) once walked 8 days in 1,152 transactions, even on an empty table."""
    pii_audit.track("+12025550188")
    (waiting,) = await _send(client, account, ["+12025550188"])
    async with runtime.engine.begin() as conn:
        await conn.execute(text("DELETE FROM receipt_sources WHERE source = 'timeouts'"))
        # Sent two days ago: past this sweep's cutoff, not yet past the worker's own (72 h).
        await conn.execute(text("UPDATE notifications SET sent_at = now() - interval '2 days' WHERE id = :id"),
                           {"id": waiting})
        now = (await conn.execute(text("SELECT now()"))).scalar_one()
    engine = create_engine(database_url, pool_size=1)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        assert await time_out_unanswered(engine, cutoff=now - timedelta(days=1)) == 1
        assert len(statements) < 20, len(statements)
        statements.clear()
        assert await time_out_unanswered(engine, cutoff=now) == 0
        assert len(statements) < 10, len(statements)
    finally:
        await engine.dispose()
    assert (await _state(runtime.engine, waiting))[0] == "temporary-failure"


async def test_a_malformed_receipt_does_not_fail_the_batch_it_is_in(runtime: Runtime) -> None:
    """A NUL from an event (PostgreSQL text cannot hold one) used to fail the whole batch: a CloudWatch
    window retried for ever behind its watermark, with every good receipt in it."""
    receipts = [
        Receipt("sim-good-reference", Status.delivered, "Verizon"),
        Receipt("sim-nul-carrier", Status.delivered, "Veri\x00zon", "Delivered\x00"),
        Receipt("sim-nul\x00reference", Status.delivered),
    ]
    async with runtime.engine.begin() as conn:
        applied = await apply_receipts(conn, receipts)
    async with runtime.engine.connect() as conn:
        parked = (await conn.execute(
            text("SELECT provider_reference, carrier, provider_response FROM parked_receipts ORDER BY 1")
        )).all()
    assert applied.parked == 2
    assert [tuple(r) for r in parked] == [("sim-good-reference", "Verizon", None),
                                          ("sim-nul-carrier", "Verizon", "Delivered")]
