"""Templates and their versions. Every edit publishes a new version; old versions stay readable."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.db.models import TemplateType
from notify.storable_text import text_problem
from notify.templates import check_sms_length, sanitise_sms, template_placeholders


class TemplateNotFound(Exception):
    """No such template for this service (or no such version)."""


class InvalidTemplate(ValueError):
    """The template itself is unusable: empty, an email without a subject, an SMS too long."""


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    id: uuid.UUID
    service_id: uuid.UUID
    name: str
    template_type: TemplateType
    subject: str | None
    content: str
    version: int
    archived: bool
    created_at: datetime
    updated_at: datetime | None

    @property
    def placeholders(self) -> list[str]:
        return template_placeholders(self.content, self.subject)


_COLUMNS = "id, service_id, name, template_type, subject, content, version, archived, created_at, updated_at"


def _record(row: object) -> TemplateRecord:
    values = list(row)  # type: ignore[call-overload]
    values[3] = TemplateType(values[3])
    return TemplateRecord(*values)


def _validate(template_type: TemplateType, name: str, subject: str | None, content: str) -> None:
    # Undecodable command-line bytes arrive as lone surrogates; PostgreSQL would refuse them (and NUL) later.
    for field, value in (("name", name), ("subject", subject), ("content", content)):
        problem = text_problem(value) if value is not None else None
        if problem is not None:
            raise InvalidTemplate(f"the template {field} {problem}")
    if not name.strip():
        raise InvalidTemplate("a template needs a name")
    if not content.strip():
        raise InvalidTemplate("a template needs some content")
    if template_type is TemplateType.email and not (subject or "").strip():
        raise InvalidTemplate("an email template needs a subject")
    if template_type is TemplateType.sms:
        if subject:
            raise InvalidTemplate("SMS templates have no subject")
        check_sms_length(sanitise_sms(content))


async def create_template(
    conn: AsyncConnection,
    service_id: uuid.UUID,
    *,
    name: str,
    template_type: TemplateType,
    content: str,
    subject: str | None = None,
) -> TemplateRecord:
    _validate(template_type, name, subject, content)
    template_id = uuid.uuid4()
    now = datetime.now(UTC)
    row = (
        await conn.execute(
            text(
                "INSERT INTO templates (id, service_id, name, template_type, subject, content, version, archived, "
                f"created_at) VALUES (:id, :s, :name, :type, :subject, :content, 1, false, :now) RETURNING {_COLUMNS}"
            ),
            {"id": template_id, "s": service_id, "name": name, "type": template_type.value, "subject": subject,
             "content": content, "now": now},
        )
    ).one()
    await _snapshot(conn, template_id)
    return _record(row)


async def update_template(
    conn: AsyncConnection,
    service_id: uuid.UUID,
    template_id: uuid.UUID,
    *,
    name: str | None = None,
    content: str | None = None,
    subject: str | None = None,
    archived: bool | None = None,
) -> TemplateRecord:
    current = await get_template(conn, service_id, template_id)
    new_name, new_content = name or current.name, content or current.content
    new_subject = subject if subject is not None else current.subject
    _validate(current.template_type, new_name, new_subject, new_content)
    content_changed = (new_name, new_content, new_subject) != (current.name, current.content, current.subject)
    row = (
        await conn.execute(
            text(
                "UPDATE templates SET name = :name, content = :content, subject = :subject, "
                "archived = :archived, version = version + :bump, updated_at = now() "
                f"WHERE id = :id AND service_id = :s RETURNING {_COLUMNS}"
            ),
            {"id": template_id, "s": service_id, "name": new_name, "content": new_content, "subject": new_subject,
             "archived": current.archived if archived is None else archived, "bump": int(content_changed)},
        )
    ).one()
    if content_changed:
        await _snapshot(conn, template_id)
    return _record(row)


async def _snapshot(conn: AsyncConnection, template_id: uuid.UUID) -> None:
    await conn.execute(
        text(
            "INSERT INTO template_versions (template_id, version, service_id, name, template_type, subject, content, "
            "created_at) SELECT id, version, service_id, name, template_type, subject, content, now() "
            "FROM templates WHERE id = :id"
        ),
        {"id": template_id},
    )


async def get_template(conn: AsyncConnection, service_id: uuid.UUID, template_id: uuid.UUID) -> TemplateRecord:
    row = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} FROM templates WHERE id = :id AND service_id = :s"),
            {"id": template_id, "s": service_id},
        )
    ).one_or_none()
    if row is None:
        raise TemplateNotFound(template_id)
    return _record(row)


async def get_template_version(
    conn: AsyncConnection, service_id: uuid.UUID, template_id: uuid.UUID, version: int
) -> TemplateRecord:
    row = (
        await conn.execute(
            text(
                "SELECT v.template_id, v.service_id, v.name, v.template_type, v.subject, v.content, v.version, "
                "t.archived, v.created_at, t.updated_at FROM template_versions v JOIN templates t ON t.id = v.template_id "
                "WHERE v.template_id = :id AND v.service_id = :s AND v.version = :v"
            ),
            {"id": template_id, "s": service_id, "v": version},
        )
    ).one_or_none()
    if row is None:
        raise TemplateNotFound(template_id)
    return _record(row)


async def list_templates(
    conn: AsyncConnection, service_id: uuid.UUID, template_type: TemplateType | None = None
) -> list[TemplateRecord]:
    rows = (
        await conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM templates WHERE service_id = :s AND NOT archived "
                "AND (CAST(:type AS text) IS NULL OR template_type = :type) ORDER BY created_at, id"
            ),
            {"s": service_id, "type": template_type.value if template_type else None},
        )
    ).all()
    return [_record(r) for r in rows]
