"""Accept one API send: validate it completely, then hand it to the group committer.

Everything that can be wrong with a request is found here, before anything is stored, so a
rejected request leaves no trace (and its recipient is never written anywhere).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from notify.catalogue.services import ServiceRecord, is_team_member
from notify.config import Settings
from notify.catalogue.templates import TemplateRecord
from notify.db.models import KeyType, TemplateType
from notify.recipients.email import normalise_email
from notify.recipients.phone import is_international, normalise_phone
from notify.runtime import Runtime
from notify.sending.group_commit import Accepted, PendingSend
from notify.sending.lookups import checked_sender, usable_template
from notify.sending.senders import ServiceSenders
from notify.templates import RenderedEmail, RenderedSms, render_email, render_sms
from notify.templates.personalisation import CleanValue, PersonalisationLimits, clean_personalisation

TRIAL_MODE_MESSAGE = (
    "Can’t send to this recipient when service is in trial mode – see "
    "https://www.notifications.service.gov.uk/trial-mode"
)
TEAM_KEY_MESSAGE = "Can’t send to this recipient using a team-only API key"


class RecipientNotAllowed(Exception):
    """Trial mode or a team key restricts recipients to the service's team list."""


def team_only(service: ServiceRecord, key_type: KeyType) -> bool:
    """Team keys, and live keys of a service in trial mode, may send only to the team list."""
    return key_type is KeyType.team or (service.restricted and key_type is not KeyType.test)


class ServiceInactive(Exception):
    pass


@dataclass(frozen=True, slots=True)
class SendRequest:
    notification_type: TemplateType
    recipient: str
    template_id: uuid.UUID
    personalisation: Mapping[str, Any]
    reference: str | None
    sender_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class SubmittedSend:
    notification_id: uuid.UUID
    template: TemplateRecord
    rendered: RenderedSms | RenderedEmail
    senders: ServiceSenders
    accepted: Accepted


def checked_personalisation(settings: Settings, raw: Mapping[str, Any]) -> dict[str, CleanValue]:
    """A request's personalisation as text, within the configured limits (raises PersonalisationRejected)."""
    limits = PersonalisationLimits(
        max_keys=settings.personalisation_max_keys,
        max_value_chars=settings.personalisation_max_value_chars,
        max_bytes=settings.personalisation_max_bytes,
    )
    return clean_personalisation(raw, limits)


async def submit_send(
    runtime: Runtime, service: ServiceRecord, api_key_id: uuid.UUID, key_type: KeyType, request: SendRequest
) -> SubmittedSend:
    if not service.active:
        raise ServiceInactive("Service is not active")
    settings = runtime.settings
    kind = request.notification_type
    personalisation = checked_personalisation(settings, request.personalisation)
    if kind is TemplateType.sms:
        recipient = normalise_phone(
            request.recipient, default_region=settings.default_phone_region, allow_international=service.international_sms
        )
    else:
        recipient = normalise_email(request.recipient)

    template = await usable_template(runtime, service.id, request.template_id, kind)
    senders = await checked_sender(runtime, service, kind, request.sender_id)
    if team_only(service, key_type):
        # The team list holds contact details, so it is looked up each time and never cached.
        async with runtime.engine.connect() as conn:
            if not await is_team_member(conn, runtime.secrets, service.id, kind, recipient):
                raise RecipientNotAllowed(TEAM_KEY_MESSAGE if key_type is KeyType.team else TRIAL_MODE_MESSAGE)

    rendered: RenderedSms | RenderedEmail
    if kind is TemplateType.sms:
        rendered = render_sms(template.content, personalisation)
        billable = rendered.length.fragments
        international = is_international(recipient, settings.default_phone_region)
    else:
        rendered = render_email(template.subject or "", template.content, personalisation)
        billable, international = 0, False

    notification_id = uuid.uuid4()
    accepted = await runtime.committer.submit(
        PendingSend(
            notification_id=notification_id,
            service_id=service.id,
            template_id=template.id,
            template_version=template.version,
            notification_type=kind,
            api_key_id=api_key_id,
            key_type=key_type,
            recipient=recipient,
            personalisation=personalisation,
            client_reference=request.reference,
            sender_id=request.sender_id,
            international=international,
            billable_units=billable,
            message_limit=service.message_limit,
            rate_limit=service.rate_limit,
        )
    )
    return SubmittedSend(notification_id, template, rendered, senders, accepted)
