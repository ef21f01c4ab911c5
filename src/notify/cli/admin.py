"""Administration: services, templates and API keys, with --json for scripts."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer

from notify.cli.common import JsonOption, emit, run_admin
from notify.config import Settings
from notify.db.models import KeyType, TemplateType

service_app = typer.Typer(no_args_is_help=True, help="Services.")
template_app = typer.Typer(no_args_is_help=True, help="Templates.")
key_app = typer.Typer(no_args_is_help=True, help="API keys.")


@service_app.command("create")
def service_create(
    name: Annotated[str, typer.Option(help="Service name, unique.")],
    live: Annotated[bool, typer.Option("--live/--trial", help="Trial mode sends only to the team list.")] = False,
    message_limit: Annotated[int, typer.Option(min=0, help="Messages per day.")] = 1000,
    rate_limit: Annotated[int, typer.Option(min=1, help="API sends per 60 seconds.")] = 3000,
    international_sms: Annotated[bool, typer.Option(help="Allow non-domestic numbers.")] = False,
    retention_days: Annotated[int, typer.Option(min=1, max=7, help="Days recipient files are kept.")] = 7,
    sms_sender: Annotated[list[str] | None, typer.Option(help="SMS sender; the first is the default.")] = None,
    reply_to: Annotated[list[str] | None, typer.Option(help="Email reply-to; the first is the default.")] = None,
    team_phone: Annotated[list[str] | None, typer.Option(help="Team member phone (trial-mode allow list).")] = None,
    team_email: Annotated[list[str] | None, typer.Option(help="Team member email (trial-mode allow list).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a service."""
    from notify.catalogue import services
    from notify.secrets import SecretBox

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        box = SecretBox(settings.ensure_secret_key())
        svc = await services.create_service(
            conn, name=name, restricted=not live, message_limit=message_limit, rate_limit=rate_limit,
            international_sms=international_sms, data_retention_days=retention_days,
        )
        senders = [str(await services.add_sms_sender(conn, svc.id, s, is_default=i == 0))
                   for i, s in enumerate(sms_sender or [])]
        replies = [str(await services.add_reply_to(conn, svc.id, r, is_default=i == 0))
                   for i, r in enumerate(reply_to or [])]
        for phone in team_phone or []:
            await services.add_team_member(
                conn, box, svc.id, TemplateType.sms, phone, region=settings.default_phone_region
            )
        for email in team_email or []:
            await services.add_team_member(conn, box, svc.id, TemplateType.email, email)
        return {"id": str(svc.id), "name": svc.name, "trial_mode": svc.restricted, "message_limit": svc.message_limit,
                "rate_limit": svc.rate_limit, "international_sms": svc.international_sms,
                "data_retention_days": svc.data_retention_days, "sms_sender_ids": senders, "reply_to_ids": replies}

    result = run_admin(work)
    emit(as_json, result, f"created service [bold]{result['name']}[/bold] {result['id']}")


@service_app.command("update")
def service_update(
    service: Annotated[uuid.UUID, typer.Option("--id", help="Service id.")],
    live: Annotated[bool | None, typer.Option("--live/--trial", help="Leave trial mode, or return to it.")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    message_limit: Annotated[int | None, typer.Option(min=0)] = None,
    rate_limit: Annotated[int | None, typer.Option(min=1)] = None,
    international_sms: Annotated[bool | None, typer.Option("--international-sms/--no-international-sms")] = None,
    retention_days: Annotated[int | None, typer.Option(min=1, max=7)] = None,
    sms_provider: Annotated[str | None, typer.Option(
        help="Send this service's SMS through a configured provider (aws-sns, aws-sms-v2, ...), or 'default'.")] = None,
    email_provider: Annotated[str | None, typer.Option(
        help="Send this service's email through a configured provider (ses, ...), or 'default'.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a service's mode, limits, retention or providers."""
    from notify.catalogue import services

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        svc = await services.update_service(
            conn, service, active=active, restricted=None if live is None else not live,
            message_limit=message_limit, rate_limit=rate_limit, international_sms=international_sms,
            data_retention_days=retention_days,
        )
        if sms_provider is not None or email_provider is not None:
            svc = await services.choose_providers(
                conn, service, sms=sms_provider, email=email_provider,
                available_sms=[p.value for p in settings.available_sms_providers],
                available_email=[p.value for p in settings.available_email_providers],
            )
        return {"id": str(svc.id), "name": svc.name, "active": svc.active, "trial_mode": svc.restricted,
                "message_limit": svc.message_limit, "rate_limit": svc.rate_limit,
                "international_sms": svc.international_sms, "data_retention_days": svc.data_retention_days,
                "sms_provider": svc.sms_provider or services.DEFAULT_PROVIDER,
                "email_provider": svc.email_provider or services.DEFAULT_PROVIDER}

    result = run_admin(work)
    emit(as_json, result, f"updated service [bold]{result['name']}[/bold] {result['id']}")


@template_app.command("create")
def template_create(
    service: Annotated[uuid.UUID, typer.Option(help="Service id.")],
    name: Annotated[str, typer.Option()],
    type: Annotated[TemplateType, typer.Option(help="sms or email.")],
    content: Annotated[str, typer.Option(help="Body, with ((placeholders)).")],
    subject: Annotated[str | None, typer.Option(help="Email subject.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a template (version 1)."""
    from notify.catalogue.services import get_service
    from notify.catalogue.templates import create_template

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        await get_service(conn, service)
        t = await create_template(conn, service, name=name, template_type=type, content=content, subject=subject)
        return {"id": str(t.id), "name": t.name, "type": t.template_type.value, "version": t.version,
                "placeholders": t.placeholders}

    result = run_admin(work)
    emit(as_json, result, f"created {result['type']} template [bold]{result['name']}[/bold] {result['id']}")


@template_app.command("update")
def template_update(
    service: Annotated[uuid.UUID, typer.Option(help="Service id.")],
    template: Annotated[uuid.UUID, typer.Option("--id", help="Template id.")],
    name: Annotated[str | None, typer.Option()] = None,
    content: Annotated[str | None, typer.Option()] = None,
    subject: Annotated[str | None, typer.Option()] = None,
    archived: Annotated[bool | None, typer.Option("--archive/--restore", help="Archived templates cannot send.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Edit a template; a content change publishes a new version, and old versions stay readable."""
    from notify.catalogue.templates import update_template

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        t = await update_template(conn, service, template, name=name, content=content, subject=subject,
                                  archived=archived)
        return {"id": str(t.id), "name": t.name, "type": t.template_type.value, "version": t.version,
                "archived": t.archived, "placeholders": t.placeholders}

    result = run_admin(work)
    emit(as_json, result, f"template {result['id']} is at version {result['version']}")


@key_app.command("create")
def key_create(
    service: Annotated[uuid.UUID, typer.Option(help="Service id.")],
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")],
    type: Annotated[KeyType, typer.Option(help="normal (live), team or test.")] = KeyType.normal,
    as_json: JsonOption = False,
) -> None:
    """Create an API key. The key is shown once; only an encrypted secret is stored."""
    from notify.catalogue.keys import create_api_key
    from notify.catalogue.services import get_service
    from notify.secrets import SecretBox

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        await get_service(conn, service)
        key = await create_api_key(conn, SecretBox(settings.ensure_secret_key()), service, name=name, key_type=type)
        return {"id": str(key.id), "name": key.name, "type": key.key_type.value, "key": key.key}

    result = run_admin(work)
    emit(as_json, result, f"API key {result['id']} ({result['type']}):\n{result['key']}")


@key_app.command("revoke")
def key_revoke(
    service: Annotated[uuid.UUID, typer.Option(help="Service id.")],
    key_id: Annotated[uuid.UUID, typer.Option(help="The key's id (not its secret).")],
    as_json: JsonOption = False,
) -> None:
    """Revoke an API key; requests signed with it get 403 from then on."""
    from notify.catalogue.keys import revoke_api_key

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        await revoke_api_key(conn, service, key_id)
        return {"id": str(key_id), "revoked": True}

    result = run_admin(work)
    emit(as_json, result, f"revoked API key {result['id']}")
