"""A ready-to-send service for tests, built through the same catalogue functions the CLI uses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from notifications_python_client.authentication import create_jwt_token

from notify.catalogue import keys, services, templates
from notify.db.models import KeyType, TemplateType
from notify.runtime import Runtime

TEAM_PHONE = "+12025550100"
TEAM_EMAIL = "team.member@agency.example.gov"


@dataclass
class Account:
    service_id: uuid.UUID
    sms_template_id: uuid.UUID
    email_template_id: uuid.UUID
    keys: dict[KeyType, keys.NewApiKey]
    sms_sender_id: uuid.UUID
    reply_to_id: uuid.UUID

    def key(self, key_type: KeyType = KeyType.normal) -> str:
        return self.keys[key_type].key

    def headers(self, key_type: KeyType = KeyType.normal) -> dict[str, str]:
        """Signed exactly as the official client signs: the secret is the last 36 characters of the key."""
        token = create_jwt_token(self.key(key_type)[-36:], str(self.service_id))
        return {"Authorization": f"Bearer {token}"}


async def create_account(
    runtime: Runtime,
    *,
    name: str | None = None,
    restricted: bool = False,
    message_limit: int = 100_000,
    rate_limit: int = 100_000,
    international_sms: bool = False,
) -> Account:
    async with runtime.engine.begin() as conn:
        svc = await services.create_service(
            conn,
            name=name or f"Test service {uuid.uuid4().hex[:8]}",
            restricted=restricted,
            message_limit=message_limit,
            rate_limit=rate_limit,
            international_sms=international_sms,
        )
        sender = await services.add_sms_sender(conn, svc.id, "Agency", is_default=True)
        reply_to = await services.add_reply_to(conn, svc.id, "replies@agency.example.gov", is_default=True)
        await services.add_team_member(conn, runtime.secrets, svc.id, TemplateType.sms, TEAM_PHONE)
        await services.add_team_member(conn, runtime.secrets, svc.id, TemplateType.email, TEAM_EMAIL)
        sms = await templates.create_template(
            conn, svc.id, name="Reminder", template_type=TemplateType.sms,
            content="Hi ((name)), your appointment is on ((day)).",
        )
        email = await templates.create_template(
            conn, svc.id, name="Letter", template_type=TemplateType.email,
            subject="Your case ((case))", content="Dear ((name)),\n\nYour case ((case)) is ready.",
        )
        api_keys = {
            kt: await keys.create_api_key(conn, runtime.secrets, svc.id, name=f"{kt.value} key", key_type=kt)
            for kt in KeyType
        }
    return Account(svc.id, sms.id, email.id, api_keys, sender, reply_to)
