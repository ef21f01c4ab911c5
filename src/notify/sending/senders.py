"""Who a message appears to come from: the service's SMS sender and email addresses.

Sender details belong to the service, not to recipients, so they live in the database.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.db.models import TemplateType

DEFAULT_SMS_SENDER = "Notify"


@dataclass(frozen=True, slots=True)
class ServiceSenders:
    sms: dict[uuid.UUID, str]
    default_sms_id: uuid.UUID | None
    reply_to: dict[uuid.UUID, str]
    default_reply_to_id: uuid.UUID | None
    from_email: str

    def has(self, kind: TemplateType, sender_id: uuid.UUID) -> bool:
        return sender_id in (self.sms if kind is TemplateType.sms else self.reply_to)

    def sms_sender(self, sender_id: uuid.UUID | None) -> str:
        chosen = sender_id or self.default_sms_id
        return self.sms.get(chosen, DEFAULT_SMS_SENDER) if chosen else DEFAULT_SMS_SENDER

    def reply_to_address(self, reply_to_id: uuid.UUID | None) -> str | None:
        chosen = reply_to_id or self.default_reply_to_id
        return self.reply_to.get(chosen) if chosen else None


def email_from_address(service_name: str, domain: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", ".", service_name.lower()).strip(".") or "notify"
    return f"{slug}@{domain}"


async def load_senders(conn: AsyncConnection, service_id: uuid.UUID, service_name: str, domain: str) -> ServiceSenders:
    sms_rows = (
        await conn.execute(
            text("SELECT id, sms_sender, is_default FROM service_sms_senders WHERE service_id = :s"),
            {"s": service_id},
        )
    ).all()
    reply_rows = (
        await conn.execute(
            text("SELECT id, email_address, is_default FROM service_email_reply_to WHERE service_id = :s"),
            {"s": service_id},
        )
    ).all()
    return ServiceSenders(
        sms={r.id: r.sms_sender for r in sms_rows},
        default_sms_id=next((r.id for r in sms_rows if r.is_default), None),
        reply_to={r.id: r.email_address for r in reply_rows},
        default_reply_to_id=next((r.id for r in reply_rows if r.is_default), None),
        from_email=email_from_address(service_name, domain),
    )
