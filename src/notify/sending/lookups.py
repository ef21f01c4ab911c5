"""The service records a send needs, through the per-process catalogue cache.

Shared by API sends and spreadsheet uploads so both refuse an unusable template the same way.
"""

from __future__ import annotations

import uuid

from notify.catalogue.services import ServiceRecord
from notify.catalogue.templates import TemplateNotFound, TemplateRecord, get_template
from notify.db.models import TemplateType
from notify.runtime import Runtime
from notify.sending.senders import ServiceSenders, load_senders


class TemplateUnusable(Exception):
    """The template is missing, archived or of the wrong type; the message says which."""


class UnknownSender(Exception):
    def __init__(self, field: str, sender_id: uuid.UUID) -> None:
        super().__init__(f"{field} {sender_id} does not exist in database for service id")
        self.field = field


async def usable_template(
    runtime: Runtime, service_id: uuid.UUID, template_id: uuid.UUID, kind: TemplateType | None = None
) -> TemplateRecord:
    async def load() -> TemplateRecord | None:
        async with runtime.engine.connect() as conn:
            try:
                return await get_template(conn, service_id, template_id)
            except TemplateNotFound:
                return None

    template = await runtime.caches.templates.get_or_load((service_id, template_id), load)
    if template is None:
        raise TemplateUnusable("Template not found")
    if template.archived:
        raise TemplateUnusable(f"Template {template.id} has been deleted")
    if kind is not None and template.template_type is not kind:
        raise TemplateUnusable(f"{template.template_type.value} template is not suitable for {kind.value} notification")
    return template


async def service_senders(runtime: Runtime, service: ServiceRecord) -> ServiceSenders:
    async def load() -> ServiceSenders:
        async with runtime.engine.connect() as conn:
            return await load_senders(conn, service.id, service.name, runtime.settings.email_from_domain)

    return await runtime.caches.senders.get_or_load(service.id, load)


async def checked_sender(
    runtime: Runtime, service: ServiceRecord, kind: TemplateType, sender_id: uuid.UUID | None
) -> ServiceSenders:
    senders = await service_senders(runtime, service)
    if sender_id is not None and not senders.has(kind, sender_id):
        raise UnknownSender("sms_sender_id" if kind is TemplateType.sms else "email_reply_to_id", sender_id)
    return senders
