"""Engine construction. The caller owns transactions; nothing in notify.db commits on its own."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from notify.db.urls import sqlalchemy_url


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip per checkout on the send path. A connection broken by
        # a database restart fails one batch (503, retry) and is replaced.
        pool_recycle=1800,
    )
