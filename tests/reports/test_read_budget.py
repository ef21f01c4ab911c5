"""The report's read budget: bounded bytes in flight, first come first served, nothing leaked on cancel."""

from __future__ import annotations

import asyncio

from notify.reports.recipient_files import _ByteBudget


async def _hold(budget: _ByteBudget, size: int, order: list[int], name: int, gate: asyncio.Event) -> None:
    await budget.acquire(size)
    order.append(name)
    await gate.wait()
    budget.release(size)


async def test_waiters_are_served_in_order_within_the_limit() -> None:
    budget = _ByteBudget(100)
    order: list[int] = []
    gates = [asyncio.Event() for _ in range(6)]
    tasks = [asyncio.create_task(_hold(budget, 40, order, n, gates[n])) for n in range(6)]
    await asyncio.sleep(0)
    assert order == [0, 1]  # a third 40-byte read would pass the 100-byte limit
    for n in range(6):
        gates[n].set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert budget._used <= 100
    await asyncio.gather(*tasks)
    assert order == list(range(6))
    assert budget._used == 0


async def test_a_read_larger_than_the_limit_runs_alone() -> None:
    budget = _ByteBudget(100)
    await budget.acquire(500)
    waiter = asyncio.create_task(budget.acquire(10))
    await asyncio.sleep(0)
    assert not waiter.done()
    budget.release(500)
    await waiter
    assert budget._used == 10


async def test_cancelled_waiters_leak_nothing_and_block_nobody() -> None:
    budget = _ByteBudget(100)
    await budget.acquire(100)
    queued = [asyncio.create_task(budget.acquire(60)) for _ in range(1000)]
    await asyncio.sleep(0)
    for task in queued:
        task.cancel()
    await asyncio.gather(*queued, return_exceptions=True)
    budget.release(100)
    assert budget._used == 0
    await asyncio.wait_for(budget.acquire(60), 1)  # nobody cancelled is still in the way
    assert budget._used == 60


async def test_granted_then_cancelled_gives_the_bytes_back() -> None:
    budget = _ByteBudget(100)
    await budget.acquire(100)
    waiter = asyncio.create_task(budget.acquire(50))
    await asyncio.sleep(0)
    budget.release(100)  # grants the waiter, which has not resumed yet
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert budget._used == 0
