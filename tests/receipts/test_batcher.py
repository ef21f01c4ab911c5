"""The micro-batcher shared by API sends and receipts, and the receipt batcher on real PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text

from notify.db.engine import create_engine
from notify.micro_batch import MicroBatcher
from notify.receipts.apply import Receipt
from notify.receipts.batcher import ReceiptBatcher, ReceiptBatchFailed
from notify.runtime import Runtime
from notify.statuses import Status
from tests.support.polling import wait_until


@dataclass
class Item:
    n: int
    future: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class Recorder:
    """A flush that records its batches and answers each item with the batch's size."""

    batches: list[list[int]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    entered: int = 0  # flushes started, including those still held at the gate

    async def __call__(self, batch: list[Item]) -> None:
        self.entered += 1
        if self.gate is not None:
            await self.gate.wait()
        self.batches.append([item.n for item in batch])
        for item in batch:
            item.future.set_result(len(batch))


async def test_concurrent_items_share_a_batch_up_to_the_size_cap() -> None:
    recorder = Recorder()
    batcher: MicroBatcher[Item] = MicroBatcher(recorder, name="test", max_wait=0.05, max_size=4)
    await batcher.start()
    items = [Item(n) for n in range(10)]
    for item in items:
        batcher.put(item)
    assert await asyncio.gather(*(item.future for item in items)) == [4, 4, 4, 4, 4, 4, 4, 4, 2, 2]
    assert recorder.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    await batcher.close()


async def test_close_flushes_everything_accepted_even_while_flushes_are_stuck() -> None:
    gate = asyncio.Event()
    recorder = Recorder(gate=gate)
    batcher: MicroBatcher[Item] = MicroBatcher(recorder, name="test", max_wait=0.01, max_size=2, max_inflight=1)
    await batcher.start()
    items = [Item(n) for n in range(7)]
    for item in items:
        batcher.put(item)
    # One flush in flight (stuck at the gate), and the next batch gathered, waiting for a free slot.
    await wait_until(lambda: recorder.entered == 1 and batcher._gathering, "a stuck flush and a waiting batch")
    closing = asyncio.create_task(batcher.close())
    await wait_until(lambda: recorder.entered == 2, "close() flushing what is left while the first flush is stuck")
    gate.set()
    await closing
    assert sorted(n for batch in recorder.batches for n in batch) == list(range(7))
    assert all(item.future.done() for item in items)
    with pytest.raises(RuntimeError):
        batcher.put(Item(99))


async def test_a_message_id_is_applied_once_across_and_within_batches(runtime: Runtime) -> None:
    batcher = runtime.receipt_batcher
    receipt = Receipt("sim-nothing-has-this-reference", Status.delivered)
    first, second, third = await asyncio.gather(
        batcher.submit("message-1", [receipt]), batcher.submit("message-1", [receipt]), batcher.submit("message-2", [])
    )
    assert sorted([first, second]) == [False, True] and third is True
    assert await batcher.submit("message-1", [receipt]) is False
    async with runtime.engine.connect() as conn:
        seen = (await conn.execute(text("SELECT message_id FROM sns_messages_seen ORDER BY 1"))).scalars().all()
    assert seen == ["message-1", "message-2"]


async def test_a_batch_that_cannot_commit_fails_every_request(database_url: str) -> None:
    engine = create_engine(database_url.replace("/notify_test_", "/no_such_database_"), pool_size=1)
    batcher = ReceiptBatcher(engine, keep_seen_seconds=3600, max_wait=0.001)
    await batcher.start()
    try:
        results = await asyncio.gather(
            batcher.submit("a", [Receipt("r", Status.delivered)]), batcher.submit("b", []), return_exceptions=True
        )
    finally:
        await batcher.close()
        await engine.dispose()
    assert [type(r) for r in results] == [ReceiptBatchFailed, ReceiptBatchFailed]


async def test_one_message_that_cannot_be_applied_fails_alone(runtime: Runtime) -> None:
    """A batch one message cannot be stored in is split: the others are applied and answered."""
    batcher = ReceiptBatcher(runtime.engine, keep_seen_seconds=3600, max_wait=0.2)
    await batcher.start()
    try:
        good, bad = await asyncio.gather(
            batcher.submit("good-message", [Receipt("sim-good-reference", Status.delivered, "Verizon")]),
            batcher.submit("bad\x00message", [Receipt("sim-bad-reference", Status.delivered)]),
            return_exceptions=True,
        )
    finally:
        await batcher.close()
    assert good is True and isinstance(bad, ReceiptBatchFailed)
    async with runtime.engine.connect() as conn:
        seen = (await conn.execute(text("SELECT message_id FROM sns_messages_seen"))).scalars().all()
        parked = (await conn.execute(text("SELECT provider_reference FROM parked_receipts"))).scalars().all()
    assert (seen, parked) == (["good-message"], ["sim-good-reference"])
