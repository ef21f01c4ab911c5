"""Reading notification rows for the v2 API: one notification, or a filtered page.

Rows carry no recipients; callers join them to their recipients with notify.recipients.lookup.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.db.models import TemplateType
from notify.statuses import Status

PAGE_SIZE = 250

_COLUMNS = (
    "n.id, n.service_id, n.job_id, n.job_row_number, n.job_kind, n.template_id, n.template_version, "
    "n.notification_type, n.client_reference, n.status, n.created_at, n.sent_at, n.completed_at, "
    "n.updated_at, n.sender_id, n.key_type, n.billable_units, n.international, n.carrier, n.provider_response, "
    "j.object_key, v.subject AS template_subject, v.content AS template_content"
)
_FROM = (
    "FROM notifications n JOIN jobs j ON j.id = n.job_id "
    "JOIN template_versions v ON v.template_id = n.template_id AND v.version = n.template_version"
)


@dataclass(frozen=True, slots=True)
class NotificationRow:
    id: uuid.UUID
    service_id: uuid.UUID
    job_id: uuid.UUID
    job_row_number: int
    job_kind: str
    template_id: uuid.UUID
    template_version: int
    notification_type: str
    client_reference: str | None
    status: str
    created_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime | None
    sender_id: uuid.UUID | None
    key_type: str
    billable_units: int
    international: bool
    carrier: str | None
    provider_response: str | None
    object_key: str
    template_subject: str | None
    template_content: str


class NotificationNotFound(Exception):
    pass


async def get_notification(conn: AsyncConnection, service_id: uuid.UUID, notification_id: uuid.UUID) -> NotificationRow:
    row = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} {_FROM} WHERE n.id = :id AND n.service_id = :s"),
            {"id": notification_id, "s": service_id},
        )
    ).one_or_none()
    if row is None:
        raise NotificationNotFound(notification_id)
    return NotificationRow(*row)


@dataclass(frozen=True, slots=True)
class NotificationFilter:
    statuses: frozenset[Status] = frozenset()
    template_type: TemplateType | None = None
    reference: str | None = None
    include_jobs: bool = False


async def list_notifications(
    conn: AsyncConnection,
    service_id: uuid.UUID,
    filters: NotificationFilter,
    *,
    older_than: uuid.UUID | None = None,
    limit: int = PAGE_SIZE,
) -> list[NotificationRow]:
    """Newest first, keyset-paged by (created_at, id) so deep pages cost the same as the first."""
    where = ["n.service_id = :s"]
    params: dict[str, object] = {"s": service_id, "limit": limit}
    if filters.statuses:
        where.append("n.status = ANY(:statuses)")
        params["statuses"] = sorted(s.value for s in filters.statuses)
    if filters.template_type is not None:
        where.append("n.notification_type = :type")
        params["type"] = filters.template_type.value
    if filters.reference is not None:
        where.append("n.client_reference = :ref")
        params["ref"] = filters.reference
    if not filters.include_jobs:
        where.append("n.job_kind = 'api'")
    if older_than is not None:
        anchor = (
            await conn.execute(
                text("SELECT created_at FROM notifications WHERE id = :id AND service_id = :s"),
                {"id": older_than, "s": service_id},
            )
        ).scalar_one_or_none()
        if anchor is None:
            return []
        where.append("(n.created_at, n.id) < (:anchor_at, :anchor_id)")
        params.update(anchor_at=anchor, anchor_id=older_than)
    rows = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} {_FROM} WHERE {' AND '.join(where)} ORDER BY n.created_at DESC, n.id DESC LIMIT :limit"),
            params,
        )
    ).all()
    return [NotificationRow(*r) for r in rows]


async def list_job_notifications(
    conn: AsyncConnection, service_id: uuid.UUID, job_id: uuid.UUID, *, from_row: int, limit: int = PAGE_SIZE
) -> list[NotificationRow]:
    """A job's notifications in row order from ``from_row``: the (job_id, job_row_number) index serves it."""
    rows = (
        await conn.execute(
            text(
                f"SELECT {_COLUMNS} {_FROM} WHERE n.job_id = :job AND n.service_id = :s AND n.job_row_number >= :r "
                "ORDER BY n.job_row_number LIMIT :limit"
            ),
            {"job": job_id, "s": service_id, "r": from_row, "limit": limit},
        )
    ).all()
    return [NotificationRow(*r) for r in rows]
