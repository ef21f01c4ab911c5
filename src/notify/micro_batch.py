"""Micro-batching: turn many concurrent single-item requests into a few batches.

One database transaction per request does not keep up with API sends or webhook receipts; one per
batch does. Callers put an item (which carries its own future) and await that future; a collector
gathers items for at most ``max_wait`` seconds after the first one (or until ``max_size``) and hands
the batch to ``flush``, which must settle every item's future. At most ``max_inflight`` flushes run
at once, so a slow database applies back-pressure instead of an unbounded pile of transactions.

Shared by the API send group commit (notify.sending.group_commit) and the SNS receipt batcher
(notify.receipts.batcher).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

Flush = Callable[[list[T]], Awaitable[None]]


class MicroBatcher(Generic[T]):
    def __init__(
        self,
        flush: Flush[T],
        *,
        name: str,
        max_wait: float,
        max_size: int,
        max_inflight: int = 4,
    ) -> None:
        self._flush = flush
        self._name = name
        self._max_wait = max_wait
        self._max_size = max_size
        self._queue: asyncio.Queue[T] = asyncio.Queue()
        self._inflight = asyncio.Semaphore(max_inflight)
        self._flushes: set[asyncio.Task[None]] = set()
        self._collector: asyncio.Task[None] | None = None
        # The batch being gathered; kept here (not in a local) so close() can flush it too.
        self._gathering: list[T] = []
        self._closed = False

    async def start(self) -> None:
        self._collector = asyncio.create_task(self._collect(), name=self._name)

    async def close(self) -> None:
        """Flush what is queued, then stop: an item already accepted is never dropped."""
        self._closed = True
        if self._collector is not None:
            self._collector.cancel()
            try:
                await self._collector
            except asyncio.CancelledError:
                pass
        leftovers, self._gathering = self._gathering, []
        while not self._queue.empty():
            leftovers.append(self._queue.get_nowait())
        if leftovers:
            await self._flush(leftovers)
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)

    def put(self, item: T) -> None:
        if self._collector is None or self._closed:
            raise RuntimeError(f"{self._name} is not running")
        self._queue.put_nowait(item)

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._gathering = batch = [await self._queue.get()]
            deadline = loop.time() + self._max_wait
            while len(batch) < self._max_size:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            # Drain whatever else is already waiting, up to the size cap, without waiting more.
            while len(batch) < self._max_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._inflight.acquire()
            self._gathering = []
            task = asyncio.create_task(self._flush_and_release(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _flush_and_release(self, batch: list[T]) -> None:
        try:
            await self._flush(batch)
        finally:
            self._inflight.release()
