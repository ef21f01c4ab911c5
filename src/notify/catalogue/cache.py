"""A small per-process TTL cache for a service's own records (keys, templates, senders).

These records are not recipient data, so caching them is allowed; it keeps the send path free of
database round trips.  Entries expire after ``ttl`` seconds, so an edit or a key revocation made
through another process is seen within about that time; ``ttl=0`` disables caching.
Recipients, personalisation and the team list are never cached.

Loads are single-flight: when an entry expires under load, one caller refreshes it while the
others keep using the previous value, instead of every in-flight request hitting the database
at the same moment.  That previous value is served for at most ``max_stale`` seconds past its
expiry: if the database stays unreachable longer, callers wait for a load of their own and get
``CatalogueUnavailable`` when it fails.  Without that bound, a key revoked just before a database
outage would keep working for as long as the outage lasted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import exc as sa_exc

from notify.log_config import get_logger

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

logger = get_logger(__name__)

# Failures that mean "the database cannot be reached now", as opposed to a bug in a loader.
DATABASE_UNREACHABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError, TimeoutError,
)


class CatalogueUnavailable(Exception):
    """A service's records could not be loaded, and no copy recent enough to trust is held."""

    def __init__(self) -> None:
        super().__init__("The service is temporarily unavailable; try again shortly")


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        ttl: float,
        *,
        max_stale: float = 30.0,
        max_entries: int = 10_000,
        unreachable: tuple[type[BaseException], ...] = DATABASE_UNREACHABLE,
    ) -> None:
        self._ttl = ttl
        self._max_stale = max_stale
        self._max_entries = max_entries
        self._unreachable = unreachable
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        if self._ttl <= 0:
            return await self._checked(load())
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry[0] > now:
            return entry[1]
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load))
            pending.add_done_callback(_retrieve)
            self._loading[key] = pending
        if entry is not None and entry[0] + self._max_stale > now:
            return entry[1]  # stale while one refresh runs, for at most max_stale
        return await self._checked(asyncio.shield(pending))

    async def _checked(self, loading: Awaitable[V]) -> V:
        try:
            return await loading
        except self._unreachable as exc:
            raise CatalogueUnavailable() from exc

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


def _retrieve(future: asyncio.Future[object]) -> None:
    """A background refresh nobody awaited: note its failure (type only) instead of asyncio's warning."""
    if not future.cancelled() and (error := future.exception()) is not None:
        logger.warning("catalogue refresh failed", action="catalogue.refresh_failed", error=type(error).__name__)
