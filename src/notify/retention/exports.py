"""Expiring report exports (``exports/<service>/<export>.csv``): by their row, and by the object's age.

Two passes, both run by the sweep (every minute, notify.worker) and by the nightly run:

1. By the export's row (:func:`expire_exports`): an export goes once its ``expires_at`` has
   passed (the TTL, capped at creation by the retention of the oldest row it may hold), or once
   that oldest row (``data_from``) is before its service's cutoff today, which catches a
   retention shortened since. The object is deleted, then the row marked ``expired``.
2. By the object itself (:func:`delete_expired_exports`), as a backstop: an object is deleted
   once it is ``ttl_hours`` old, or was written before its service's cutoff. Objects are found
   by listing the ``exports/`` prefix, so objects no table knows about (an export whose row was
   never written) expire too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.storage import EXPORTS_PREFIX, ObjectInfo, ObjectStore

__all__ = ["DEFAULT_EXPORT_TTL_HOURS", "delete_expired_exports", "expire_exports", "export_expired"]

DEFAULT_EXPORT_TTL_HOURS = 24
_DELETE_BATCH = 1000


def _service_of(key: str) -> uuid.UUID | None:
    parts = key.removeprefix(EXPORTS_PREFIX).split("/")
    try:
        return uuid.UUID(parts[0]) if len(parts) == 2 else None
    except ValueError:
        return None


def export_expired(
    info: ObjectInfo, *, now: datetime, ttl: timedelta, cutoffs: Mapping[uuid.UUID, datetime]
) -> bool:
    """``cutoffs`` maps a service to its expiry cutoff; an unknown service's export expires by age only."""
    if info.last_modified <= now - ttl:
        return True
    service_id = _service_of(info.key)
    cutoff = cutoffs.get(service_id) if service_id else None
    return cutoff is not None and info.last_modified < cutoff


async def delete_expired_exports(
    store: ObjectStore,
    *,
    now: datetime,
    cutoffs: Mapping[uuid.UUID, datetime],
    ttl_hours: float = DEFAULT_EXPORT_TTL_HOURS,
) -> int:
    """Delete every expired export object; return how many. Safe to rerun: deletes are idempotent."""
    ttl = timedelta(hours=ttl_hours)
    # List first, then delete: a local store's directory walk should not see its tree change.
    expired = [
        info.key async for info in store.list(EXPORTS_PREFIX) if export_expired(info, now=now, ttl=ttl, cutoffs=cutoffs)
    ]
    for start in range(0, len(expired), _DELETE_BATCH):
        await store.delete_many(expired[start : start + _DELETE_BATCH])
    return len(expired)


async def expire_exports(
    engine: AsyncEngine, store: ObjectStore, *, now: datetime, cutoffs: Mapping[uuid.UUID, datetime]
) -> int:
    """Delete the object of every export past its expiry or its data's retention; return how many.

    Only exports not yet marked expired are read (a partial index keeps that set small). Each
    object is deleted before its row is marked, so a crash in between deletes it again next time.
    """
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, service_id, object_key, expires_at, data_from FROM report_exports "
                    "WHERE status <> 'expired' ORDER BY expires_at"
                )
            )
        ).all()
    doomed = [
        (row.id, row.object_key)
        for row in rows
        if row.expires_at <= now
        or (row.data_from is not None and row.service_id in cutoffs and row.data_from < cutoffs[row.service_id])
    ]
    for start in range(0, len(doomed), _DELETE_BATCH):
        batch = doomed[start : start + _DELETE_BATCH]
        await store.delete_many(key for _, key in batch)
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE report_exports SET status = 'expired' WHERE id = ANY(:ids)"),
                {"ids": [export_id for export_id, _ in batch]},
            )
    return len(doomed)
