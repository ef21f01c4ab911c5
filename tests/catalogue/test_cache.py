"""The catalogue cache: expiry, single-flight refresh, and no caching when disabled."""

from __future__ import annotations

import asyncio

import pytest

from notify.catalogue.cache import CatalogueUnavailable, TtlCache


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> int:
        self.calls += 1
        await self.release.wait()
        return self.calls


async def test_concurrent_misses_load_once() -> None:
    cache: TtlCache[str, int] = TtlCache(60)
    loader = Loader()
    waiting = [asyncio.ensure_future(cache.get_or_load("k", loader)) for _ in range(50)]
    await asyncio.sleep(0)
    loader.release.set()
    assert await asyncio.gather(*waiting) == [1] * 50
    assert loader.calls == 1


async def test_expired_entry_is_served_stale_while_one_refresh_runs() -> None:
    cache: TtlCache[str, int] = TtlCache(0.01)
    loader = Loader()
    loader.release.set()
    assert await cache.get_or_load("k", loader) == 1
    await asyncio.sleep(0.02)
    loader.release.clear()
    assert [await cache.get_or_load("k", loader) for _ in range(10)] == [1] * 10  # stale, not blocked
    loader.release.set()
    await asyncio.sleep(0.01)
    assert await cache.get_or_load("k", loader) == 2
    assert loader.calls == 2


async def test_failed_load_is_not_cached() -> None:
    cache: TtlCache[str, int] = TtlCache(60)

    async def boom() -> int:
        raise RuntimeError("db down")

    with pytest.raises(RuntimeError):
        await cache.get_or_load("k", boom)

    async def ok() -> int:
        return 7

    assert await cache.get_or_load("k", ok) == 7


async def test_zero_ttl_always_loads() -> None:
    cache: TtlCache[str, int] = TtlCache(0)
    loader = Loader()
    loader.release.set()
    assert [await cache.get_or_load("k", loader) for _ in range(3)] == [1, 2, 3]


async def test_stale_entry_is_served_only_up_to_the_limit_while_loads_fail() -> None:
    cache: TtlCache[str, int] = TtlCache(0.01, max_stale=0.2)

    async def ok() -> int:
        return 1

    async def unreachable() -> int:
        raise OSError("connection refused")

    assert await cache.get_or_load("k", ok) == 1
    await asyncio.sleep(0.02)
    assert await cache.get_or_load("k", unreachable) == 1  # stale, within the limit
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        try:
            await cache.get_or_load("k", unreachable)
        except CatalogueUnavailable:
            break
        assert asyncio.get_running_loop().time() < deadline, "a stale entry was served past its limit"
        await asyncio.sleep(0.02)
    assert await cache.get_or_load("k", ok) == 1  # a load that succeeds ends it
