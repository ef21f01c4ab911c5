"""First-run set-up for `notify run`: a migrated database and a demo service ready to send."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text

from notify.catalogue import keys, services, templates
from notify.config import Settings
from notify.db import migrate
from notify.db.engine import create_engine
from notify.db.models import KeyType, TemplateType
from notify.runtime import resolve_database_url
from notify.secrets import SecretBox

DEMO_SERVICE = "Demo service"
DEMO_KEY_NAME = "demo"


@dataclass(frozen=True)
class Demo:
    service_id: uuid.UUID
    sms_template_id: uuid.UUID
    email_template_id: uuid.UUID
    api_key: str


def prepare_database(settings: Settings) -> str:
    url = resolve_database_url(settings)
    migrate.upgrade(url, secret_key=settings.ensure_secret_key())
    return url


async def ensure_demo(settings: Settings, database_url: str) -> Demo:
    """Idempotent: the same service, templates and key come back on every start."""
    box = SecretBox(settings.ensure_secret_key())
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            service = await services.find_service_by_name(conn, DEMO_SERVICE)
            if service is None:
                service = await services.create_service(
                    conn, name=DEMO_SERVICE, restricted=False, message_limit=250_000, rate_limit=100_000
                )
                await services.add_sms_sender(conn, service.id, "Notify", is_default=True)
            found = {t.template_type: t for t in await templates.list_templates(conn, service.id)}
            sms = found.get(TemplateType.sms) or await templates.create_template(
                conn, service.id, name="Demo SMS", template_type=TemplateType.sms,
                content="Hello ((name)), this is a message from Notify.",
            )
            email = found.get(TemplateType.email) or await templates.create_template(
                conn, service.id, name="Demo email", template_type=TemplateType.email,
                subject="Hello ((name))", content="Hello ((name)),\n\nThis is an email from Notify.",
            )
            row = (
                await conn.execute(
                    text(
                        "SELECT secret_encrypted FROM api_keys WHERE service_id = :s AND name = :n "
                        "AND revoked_at IS NULL ORDER BY created_at LIMIT 1"
                    ),
                    {"s": service.id, "n": DEMO_KEY_NAME},
                )
            ).first()
            if row is None:
                api_key = (await keys.create_api_key(conn, box, service.id, name=DEMO_KEY_NAME, key_type=KeyType.normal)).key
            else:
                api_key = keys.key_string(DEMO_KEY_NAME, service.id, box.decrypt(row.secret_encrypted))
        return Demo(service.id, sms.id, email.id, api_key)
    finally:
        await engine.dispose()
