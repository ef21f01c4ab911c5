"""Per-sender send rate limits that hold across every worker process together.

A carrier may allow an SMS origination number 20 messages a second; SES may allow an account 14
emails a second.  Workers on any number of machines share one token bucket per sender, kept in
PostgreSQL (``send_rate_buckets``, refilled and taken from by ``notify_take_send_tokens`` in
migration 0003, on the database's clock).  Before handing messages to a provider a worker calls
:meth:`SendRateLimiter.acquire` and sends only as many as it was granted.

Tokens are taken in batches: a worker asks for the next chunk it wants to send (say 100), so at
5,000 msg/s it makes tens of calls a second, not thousands.  Nothing is held in process memory, so
a worker that dies never strands tokens another worker needs.
"""

from __future__ import annotations

import asyncio
import math

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_TAKE = text("SELECT granted, wait_seconds FROM notify_take_send_tokens(:bucket, :wanted, :rate, :burst)")


class SendRateLimiter:
    """Grants send permits from per-sender token buckets shared through PostgreSQL.

    ``max_sleep`` bounds one sleep, so a waiting worker re-checks at least that often.
    ``min_batch_seconds`` is how much sending a worker waits to accumulate once the bucket is empty:
    rather than waking for every single token (one DB call per message at the limit), it waits
    until about that many seconds' worth of tokens exist.  Tokens keep accumulating while it waits
    (up to the burst), so this costs no throughput, only that much latency.
    """

    def __init__(self, engine: AsyncEngine, *, max_sleep: float = 1.0, min_batch_seconds: float = 0.02) -> None:
        self._engine = engine
        self._max_sleep = max_sleep
        self._min_batch_seconds = min_batch_seconds
        # bucket -> loop time when a worthwhile batch should next exist, learnt from our last call.
        # Only a hint for pacing this process: the bucket itself lives in the database.
        self._ready_at: dict[str, float] = {}

    async def acquire(self, bucket: str, wanted: int, *, rate: float | None, burst: float | None = None) -> int:
        """Wait until at least one message may be sent from ``bucket``; return how many (1..wanted).

        ``rate`` is messages per second; ``None`` or ``<= 0`` means unlimited, and ``wanted`` is
        returned without touching the database.  ``burst`` is the bucket's size (how many may go at
        once after a quiet spell); it defaults to one second's worth, and at least one.
        """
        if wanted < 1:
            raise ValueError(f"wanted must be at least 1, got {wanted}")
        if rate is None or rate <= 0:
            return wanted
        size = max(rate if burst is None else burst, 1.0)
        # The bucket never holds more than `size`, so asking for more only inflates the request.
        ask = min(wanted, math.floor(size))
        # Once the bucket is empty, wait for a worthwhile batch rather than a single token: asking
        # again straight away would take the trickle that arrived during one round trip.
        batch = max(1, min(ask, math.floor(rate * self._min_batch_seconds)))
        loop = asyncio.get_running_loop()
        ready_at = self._ready_at.pop(bucket, None)
        if ready_at is not None and ready_at > loop.time():
            await asyncio.sleep(min(ready_at - loop.time(), self._max_sleep))
        while True:
            granted, wait_seconds = await self._take(bucket, ask, rate, size)
            pause = min(wait_seconds + (batch - 1) / rate, self._max_sleep) if wait_seconds > 0 else 0.0
            if granted > 0:
                if pause:
                    self._ready_at[bucket] = loop.time() + pause
                return granted
            await asyncio.sleep(pause)

    async def _take(self, bucket: str, wanted: int, rate: float, burst: float) -> tuple[int, float]:
        # Autocommit: the function is one statement, so the bucket's row lock lasts only while it runs.
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            row = (
                await conn.execute(_TAKE, {"bucket": bucket, "wanted": wanted, "rate": float(rate), "burst": burst})
            ).one()
        return int(row.granted), float(row.wait_seconds)
