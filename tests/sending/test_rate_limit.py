"""Per-sender send rate limits, against real PostgreSQL.

These are behaviour tests about the limit (how long N messages must take), with generous bounds;
they are not performance benchmarks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.db.engine import create_engine
from notify.sending.rate_limit import SendRateLimiter


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


def count_statements(engine: AsyncEngine) -> list[str]:
    """Record every statement the engine sends, by listening to SQLAlchemy's own event."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return seen


async def take(limiter: SendRateLimiter, bucket: str, total: int, *, chunk: int, rate: float, burst: float) -> int:
    """Send `total` messages in chunks the way a worker does; return how many calls it made."""
    sent = calls = 0
    while sent < total:
        granted = await limiter.acquire(bucket, min(chunk, total - sent), rate=rate, burst=burst)
        assert 1 <= granted <= min(chunk, total - sent)
        sent += granted
        calls += 1
    return calls


def without_waiting(step: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine one step: it must finish without suspending (no sleep, no I/O)."""
    try:
        step.send(None)
    except StopIteration as done:
        return int(done.value)
    step.close()
    raise AssertionError("the coroutine suspended: it waited for something")


async def test_unlimited_returns_wanted_without_the_database(engine: AsyncEngine) -> None:
    statements = count_statements(engine)
    limiter = SendRateLimiter(engine)

    assert without_waiting(limiter.acquire("sms:+12025550100", 500, rate=None)) == 500
    assert without_waiting(limiter.acquire("sms:+12025550100", 500, rate=0)) == 500
    assert without_waiting(limiter.acquire("sms:+12025550100", 7, rate=-1, burst=3)) == 7

    assert statements == []


async def test_burst_then_steady_rate(engine: AsyncEngine) -> None:
    limiter = SendRateLimiter(engine)

    started = time.monotonic()
    first = await limiter.acquire("sms:+12025550100", 60, rate=50, burst=10)
    assert first == 10, "a fresh bucket starts full, and never grants more than its burst"
    await take(limiter, "sms:+12025550100", 50, chunk=60, rate=50, burst=10)
    elapsed = time.monotonic() - started

    # (60 - 10) / 50 msg/s
    assert 0.8 <= elapsed <= 2.0


async def test_limit_holds_across_workers(database_url: str) -> None:
    """Four workers, each with its own engine (its own pool, like its own process), share one bucket."""
    rate, burst, per_worker = 100.0, 20.0, 25
    engines = [create_engine(database_url, pool_size=1) for _ in range(4)]
    grants: list[tuple[float, int]] = []

    async def worker(engine: AsyncEngine) -> int:
        limiter = SendRateLimiter(engine)
        got = 0
        while got < per_worker:
            granted = await limiter.acquire("email:ses", min(10, per_worker - got), rate=rate, burst=burst)
            grants.append((time.monotonic(), granted))
            got += granted
        return got

    try:
        started = time.monotonic()
        totals = await asyncio.gather(*(worker(e) for e in engines))
        elapsed = time.monotonic() - started
    finally:
        for e in engines:
            await e.dispose()

    assert totals == [per_worker] * 4
    assert sum(granted for _, granted in grants) == 100
    # (100 - 20) / 100 msg/s
    assert 0.6 <= elapsed <= 3.0
    # At no moment had the workers together been granted more than the bucket allows.
    so_far = 0
    for at, granted in sorted(grants):
        so_far += granted
        assert so_far <= burst + rate * (at - started) + 1e-6


async def test_buckets_are_independent(engine: AsyncEngine) -> None:
    limiter = SendRateLimiter(engine)

    assert await limiter.acquire("sms:+12025550100", 5, rate=0.5, burst=5) == 5  # now empty for ~2 s

    statements = count_statements(engine)
    started = time.monotonic()
    assert await limiter.acquire("sms:+12025550199", 5, rate=0.5, burst=5) == 5
    assert await limiter.acquire("email:ses", 5, rate=0.5, burst=5) == 5
    # One take each, granted in full at once: neither waited for the empty bucket's next token (2 s).
    assert len([s for s in statements if "notify_take_send_tokens" in s]) == 2
    assert time.monotonic() - started < 1.5


async def test_granted_never_exceeds_wanted(engine: AsyncEngine) -> None:
    limiter = SendRateLimiter(engine)

    for wanted in (1, 3, 1, 7, 2):
        assert await limiter.acquire("email:ses", wanted, rate=1000, burst=1000) == wanted
    # More than the bucket holds: the grant is capped at what exists, and is at least one.
    granted = await limiter.acquire("sms:+12025550100", 100, rate=1000, burst=40)
    assert 1 <= granted <= 40


async def test_sql_function_refills_grants_and_says_how_long_to_wait(engine: AsyncEngine) -> None:
    take_tokens = text("SELECT granted, wait_seconds FROM notify_take_send_tokens(:bucket, :wanted, :rate, :burst)")
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")

        async def call(wanted: int) -> tuple[int, float]:
            row = (await conn.execute(take_tokens, {"bucket": "sms:x", "wanted": wanted, "rate": 2.0, "burst": 3.0})).one()
            return row.granted, row.wait_seconds

        assert await call(2) == (2, 0.0)  # starts full at 3; one left
        granted, wait = await call(5)
        assert granted == 1
        assert 0.45 <= wait <= 0.5  # empty: one token takes 1/2 s at 2/s
        granted, wait = await call(1)
        assert granted == 0
        assert 0 < wait <= 0.5
        await asyncio.sleep(wait + 0.05)
        granted, _ = await call(1)
        assert granted == 1

        stored = (await conn.execute(text("SELECT bucket, tokens FROM send_rate_buckets"))).all()
        assert [b for b, _ in stored] == ["sms:x"]
        assert 0 <= stored[0].tokens < 1


async def test_few_database_calls_at_high_rate(engine: AsyncEngine) -> None:
    statements = count_statements(engine)
    limiter = SendRateLimiter(engine)

    calls = await take(limiter, "sms:+12025550100", 1000, chunk=100, rate=5000, burst=5000)

    takes = [s for s in statements if "notify_take_send_tokens" in s]
    assert calls == len(takes) == 10


async def test_few_database_calls_when_held_at_the_limit(engine: AsyncEngine) -> None:
    """At the limit a worker waits for a batch to accumulate instead of taking each token's trickle."""
    statements = count_statements(engine)
    limiter = SendRateLimiter(engine)

    started = time.monotonic()
    calls = await take(limiter, "sms:+12025550100", 1100, chunk=100, rate=2000, burst=100)
    elapsed = time.monotonic() - started

    assert 0.4 <= elapsed <= 2.0  # (1100 - 100) / 2000 msg/s
    # 2000/s for 0.5 s in batches of 0.02 s worth (40): about 25 calls, not one per round trip.
    assert calls <= 60
    assert len([s for s in statements if "notify_take_send_tokens" in s]) == calls


async def test_rejects_a_request_for_nothing(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="wanted"):
        await SendRateLimiter(engine).acquire("email:ses", 0, rate=10)
