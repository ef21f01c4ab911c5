"""Expiring report exports (``exports/<service>/<export>.csv``) by the age of the object itself.

An export is deleted once it is ``ttl_hours`` old (24 by default), or once it was written before
its service's expiry cutoff, whichever comes first, so it never outlives the data's retention.
Exports are found by listing the ``exports/`` prefix, so objects no table knows about (an export
whose row was never written) expire too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from notify.storage import EXPORTS_PREFIX, ObjectInfo, ObjectStore

__all__ = ["DEFAULT_EXPORT_TTL_HOURS", "delete_expired_exports", "export_expired"]

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
