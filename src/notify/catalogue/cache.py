"""A small per-process TTL cache for a service's own records (keys, templates, senders).

These records are not recipient data, so caching them is allowed; it keeps the send path free of
database round trips.  Entries expire after ``ttl`` seconds, so an edit or a key revocation made
through another process is seen within about that time; ``ttl=0`` disables caching.
Recipients, personalisation and the team list are never cached.

Loads are single-flight: when an entry expires under load, one caller refreshes it while the
others keep using the previous value, instead of every in-flight request hitting the database
at the same moment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, *, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        if self._ttl <= 0:
            return await load()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load))
            self._loading[key] = pending
        if entry is not None:
            return entry[1]  # stale for at most one refresh
        return await asyncio.shield(pending)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await load()
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self._ttl, value)
            return value
        finally:
            del self._loading[key]

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)
