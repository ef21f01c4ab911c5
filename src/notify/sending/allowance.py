"""A service's daily allowance and per-minute API rate, counted in PostgreSQL for every process.

API batches take both (notify_reserve_allowance, migration 0002); a spreadsheet job takes its
whole row count from the daily allowance up front, or nothing: a file is never half-accepted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

RATE_WINDOW = timedelta(seconds=60)

_COUNTERS = (
    "service_id = :service_id AND ((kind = 'daily' AND window_start = :day) OR (kind = 'rate' AND window_start = :window))"
)
_RESERVE = text(
    "SELECT granted, daily_left, rate_left FROM notify_reserve_allowance("
    ":service_id, :day, :window, :wanted, :daily_limit, :rate_limit)"
)
_RELEASE = text(f"UPDATE usage_counters SET count = GREATEST(count - :amount, 0) WHERE {_COUNTERS}")
_RELEASE_DAILY = text(
    "UPDATE usage_counters SET count = GREATEST(count - :amount, 0) "
    "WHERE service_id = :service_id AND kind = 'daily' AND window_start = :day"
)
_TAKE_DAILY = text(
    "INSERT INTO usage_counters AS u (service_id, kind, window_start, count) VALUES (:service_id, 'daily', :day, :n) "
    "ON CONFLICT (service_id, kind, window_start) DO UPDATE SET count = u.count + EXCLUDED.count "
    "WHERE u.count + EXCLUDED.count <= :limit RETURNING count"
)
_USED_DAILY = text(
    "SELECT count FROM usage_counters WHERE service_id = :service_id AND kind = 'daily' AND window_start = :day"
)


def windows(now: datetime) -> tuple[datetime, datetime]:
    """The UTC day and the 60-second window that ``now`` falls in: the counters' keys."""
    seconds = RATE_WINDOW.total_seconds()
    return now.replace(hour=0, minute=0, second=0, microsecond=0), datetime.fromtimestamp(
        now.timestamp() // seconds * seconds, UTC
    )


@dataclass(frozen=True, slots=True)
class Reservation:
    granted: int
    daily_left: int  # before this reservation
    rate_left: int


async def reserve(
    conn: AsyncConnection, service_id: uuid.UUID, wanted: int, *, daily_limit: int, rate_limit: int, now: datetime
) -> Reservation:
    """Take up to ``wanted`` from both counters; run it in autocommit so the row lock is brief."""
    day, window = windows(now)
    row = (
        await conn.execute(
            _RESERVE,
            {"service_id": service_id, "day": day, "window": window, "wanted": wanted,
             "daily_limit": daily_limit, "rate_limit": rate_limit},
        )
    ).one()
    return Reservation(*row)


async def release(conn: AsyncConnection, service_id: uuid.UUID, amount: int, *, now: datetime) -> None:
    """Hand back what a failed API batch reserved (both counters)."""
    day, window = windows(now)
    await conn.execute(_RELEASE, {"service_id": service_id, "day": day, "window": window, "amount": amount})


async def take_daily(conn: AsyncConnection, service_id: uuid.UUID, rows: int, *, limit: int, now: datetime) -> bool:
    """All or nothing: True if the whole file fits in what is left of today's allowance."""
    if rows > limit:
        return False
    day, _ = windows(now)
    row = (await conn.execute(_TAKE_DAILY, {"service_id": service_id, "day": day, "n": rows, "limit": limit})).first()
    return row is not None


async def release_daily(conn: AsyncConnection, service_id: uuid.UUID, rows: int, *, now: datetime) -> None:
    day, _ = windows(now)
    await conn.execute(_RELEASE_DAILY, {"service_id": service_id, "day": day, "amount": rows})


async def daily_remaining(conn: AsyncConnection, service_id: uuid.UUID, *, limit: int, now: datetime) -> int:
    day, _ = windows(now)
    used = (await conn.execute(_USED_DAILY, {"service_id": service_id, "day": day})).scalar_one_or_none() or 0
    return max(0, limit - used)
