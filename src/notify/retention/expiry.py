"""When data expires: the one place that turns "retention days" into a cut-off instant.

The rule (all in UTC):

    today   = the UTC date of ``now``
    cutoff  = 00:00 UTC on (today - retention_days)
    a notification has expired when its created_at < cutoff

So a service keeping 7 days, checked at any time on 10 December, keeps everything created from
3 December 00:00 UTC onwards: the last 7 whole days plus today so far. A day is *complete* once
``now`` is past its end (day < today); only complete days are rolled up into facts.

A job's recipient object expires with its rows: once ``coalesce(scheduled_for, created_at)`` is
before the cutoff and none of its notifications remain (see :mod:`notify.retention.purge`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

__all__ = [
    "MAX_RETENTION_DAYS",
    "MIN_RETENTION_DAYS",
    "data_expiry",
    "day_start",
    "expiry_cutoff",
    "retention_days",
    "utc_today",
]

MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 7


def utc_today(now: datetime) -> date:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    """00:00 UTC on ``day``."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def retention_days(configured: int | None) -> int:
    """A service's retention, held to 1..7 days whatever the column says (no PII beyond 7 days)."""
    if configured is None:
        return MAX_RETENTION_DAYS
    return min(max(configured, MIN_RETENTION_DAYS), MAX_RETENTION_DAYS)


def expiry_cutoff(now: datetime, days: int) -> datetime:
    """Rows created before this instant have expired for a service keeping ``days`` days."""
    return day_start(utc_today(now) - timedelta(days=retention_days(days)))


def data_expiry(created_at: datetime, days: int) -> datetime:
    """The first instant at which a row created at ``created_at`` has expired (the inverse of the cutoff).

    ``created_at < expiry_cutoff(now, days)`` first holds at 00:00 UTC on the day after
    ``created_at``'s UTC day plus ``days``: what a copy of the row (a report export) must not outlive.
    """
    return day_start(utc_today(created_at) + timedelta(days=retention_days(days) + 1))
