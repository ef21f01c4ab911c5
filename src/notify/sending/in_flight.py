"""The messages a delivery task has handed out, sent concurrently and recorded as they finish.

One per delivery task (a chunk of rows).  It exists so that a message waiting out a provider's
backoff holds nothing back:

- it gives up its concurrency slot while it waits (notify.sending.provider_retry);
- it does not count as *busy*, so the task moves on to its next claim of rows once everything
  else is settled (``settle``), instead of waiting for the slowest message;
- outcomes are recorded a batch at a time as they arrive, at most ``linger`` seconds apart, not
  when the whole claim is done, so the others' statuses show while it waits.

A send that raises does not take its neighbours down with it: its exception becomes its own
outcome (``failed``), recorded with the rest of its batch.  Before, the first such exception
escaped from the batch and the outcomes of every message finished beside it were lost, so the
retried task called all of them "in doubt" although the provider had them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class InFlight(Generic[T]):
    def __init__(self, concurrency: int, record: Callable[[list[T]], Awaitable[None]], *, linger: float) -> None:
        self.slot = asyncio.Semaphore(concurrency)
        self._record = record
        self._linger = linger
        self._running: set[asyncio.Task[T]] = set()
        self._failed: dict[asyncio.Task[T], Callable[[BaseException], T]] = {}
        self._finished: list[asyncio.Task[T]] = []
        self._busy = 0
        self._changed = asyncio.Event()
        self.started = 0

    def start(self, send: Coroutine[Any, Any, T], failed: Callable[[BaseException], T]) -> None:
        """Run ``send``; if it raises (or is cancelled by anyone but us), ``failed(exc)`` is its outcome."""
        task = asyncio.create_task(send)
        self._failed[task] = failed
        self._busy += 1
        self.started += 1
        self._running.add(task)
        task.add_done_callback(self._done)

    async def rest(self, seconds: float) -> None:
        """Sleep without counting as busy: what a message waiting out a backoff calls."""
        self._busy -= 1
        self._changed.set()
        try:
            await asyncio.sleep(seconds)
        finally:
            self._busy += 1

    async def settle(self) -> None:
        """Record outcomes until nothing is busy: every message is finished or waiting out a backoff."""
        await self._drain(lambda: self._busy == 0)

    async def finish(self) -> None:
        """Record outcomes until every message is finished, backoffs included."""
        await self._drain(lambda: not self._running)

    async def cancel(self) -> None:
        """Stop whatever is still running (the task itself is being cancelled or failed)."""
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    def _outcome(self, task: asyncio.Task[T]) -> T:
        failed = self._failed.pop(task)
        if task.cancelled():
            return failed(asyncio.CancelledError())
        error = task.exception()
        return failed(error) if error is not None else task.result()

    def _done(self, task: asyncio.Task[T]) -> None:
        self._busy -= 1
        self._running.discard(task)
        self._finished.append(task)
        self._changed.set()

    async def _gather_more(self) -> None:
        """Others are about to finish too: let them arrive (up to ``linger``) and record them together."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger
        while self._busy and loop.time() < deadline:
            self._changed.clear()
            try:
                async with asyncio.timeout_at(deadline):
                    await self._changed.wait()
            except TimeoutError:
                return

    async def _drain(self, enough: Callable[[], bool]) -> None:
        while True:
            if self._finished and self._busy and self._linger:
                await self._gather_more()
            finished, self._finished = self._finished, []
            if finished:
                await self._record([self._outcome(task) for task in finished])
                continue
            if enough():
                return
            self._changed.clear()
            await self._changed.wait()
