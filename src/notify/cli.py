"""The `notify` command: run the service, or any one part of it, and administer services.

Every admin command takes ``--json`` so deployment scripts can read its output.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from notify.config import ConfigError, Settings, load_settings
from notify.db.models import KeyType, TemplateType
from notify.log_config import configure_logging

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Notify: SMS and email for public services.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
service_app = typer.Typer(no_args_is_help=True, help="Services.")
template_app = typer.Typer(no_args_is_help=True, help="Templates.")
key_app = typer.Typer(no_args_is_help=True, help="API keys.")
app.add_typer(db_app, name="db")
app.add_typer(service_app, name="service")
app.add_typer(template_app, name="template")
app.add_typer(key_app, name="key")

console = Console(stderr=True)
T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    configure_logging(settings.resolved_log_format, settings.log_level)
    return settings


def _with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    """Command-line --host/--port win over NOTIFY_HOST/NOTIFY_PORT."""
    return settings.model_copy(
        update={k: v for k, v in (("host", host), ("port", port)) if v is not None}
    )


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def _emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    else:
        console.print(human)


def _run(coro: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro())  # type: ignore[arg-type]


# --- running -----------------------------------------------------------------------------------


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
) -> None:
    """Everything in one process on embedded defaults: database, object store, API, worker."""
    from notify.bootstrap import ensure_demo, prepare_database
    from notify.serve import serve

    settings = _with_address(_settings(), host, port)
    database_url = prepare_database(settings)
    demo = _run(lambda: ensure_demo(settings, database_url))
    console.print(f"[bold green]Notify is running[/bold green] at [bold]{settings.base_url}[/bold]")
    console.print(f"  service id:        {demo.service_id}")
    console.print(f"  sms template id:   {demo.sms_template_id}")
    console.print(f"  email template id: {demo.email_template_id}")
    console.print(f"  API key (live):    {demo.api_key}", soft_wrap=True)
    console.print(f"  data:              {settings.data_dir.resolve()}")
    console.print("  Ctrl-C stops everything.")
    serve(settings, run_worker=True)


@app.command()
def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes.")] = 1,
) -> None:
    """Serve the HTTP API only (split deployments run workers separately)."""
    from notify.serve import serve

    serve(_with_address(_settings(), host, port), run_worker=False, workers=workers)


@app.command()
def worker(concurrency: Annotated[int | None, typer.Option(min=1, max=64)] = None) -> None:
    """Run a queue worker: delivery, receipts and maintenance tasks."""
    from notify.runtime import open_runtime
    from notify.worker import run_worker

    settings = _settings()

    async def main() -> None:
        async with open_runtime(settings) as runtime:
            await run_worker(runtime, concurrency=concurrency)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        console.print("worker stopped")


# --- database ----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations (our tables and the task queue's)."""
    from notify.db import migrate
    from notify.runtime import resolve_database_url

    settings = _settings()
    url = resolve_database_url(settings)
    migrate.upgrade(url, revision)
    console.print(f"database at revision {migrate.current_revision(url)}")


@db_app.command("current")
def db_current() -> None:
    from notify.db import migrate
    from notify.runtime import resolve_database_url

    console.print(str(migrate.current_revision(resolve_database_url(_settings()))))


# --- administration ----------------------------------------------------------------------------


def _admin(work: Callable[[Any, Settings], Awaitable[T]]) -> T:
    """Run ``work(conn, settings)`` in one committed transaction; domain errors become clear exits."""
    from sqlalchemy.exc import ProgrammingError

    from notify.catalogue.keys import ApiKeyNotFound
    from notify.catalogue.services import InvalidService, ServiceNotFound
    from notify.catalogue.templates import InvalidTemplate, TemplateNotFound
    from notify.db.engine import create_engine
    from notify.recipients.email import InvalidEmailAddress
    from notify.recipients.phone import InvalidPhoneNumber
    from notify.runtime import resolve_database_url
    from notify.templates import SmsTooLong

    settings = _settings()
    url = resolve_database_url(settings)

    async def main() -> T:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                return await work(conn, settings)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except (InvalidService, InvalidTemplate, SmsTooLong, InvalidPhoneNumber, InvalidEmailAddress) as exc:
        raise _fail(str(exc)) from None
    except ServiceNotFound:
        raise _fail("no such service; `notify service create` makes one") from None
    except TemplateNotFound:
        raise _fail("no such template for that service") from None
    except ApiKeyNotFound:
        raise _fail("no such API key for that service") from None
    except ProgrammingError as exc:
        if "does not exist" in str(exc.orig):
            raise _fail("the database has no Notify tables yet; run `notify db upgrade` first") from None
        raise


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

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        svc = await services.create_service(
            conn, name=name, restricted=not live, message_limit=message_limit, rate_limit=rate_limit,
            international_sms=international_sms, data_retention_days=retention_days,
        )
        senders = [str(await services.add_sms_sender(conn, svc.id, s, is_default=i == 0))
                   for i, s in enumerate(sms_sender or [])]
        replies = [str(await services.add_reply_to(conn, svc.id, r, is_default=i == 0))
                   for i, r in enumerate(reply_to or [])]
        for phone in team_phone or []:
            await services.add_team_member(conn, svc.id, TemplateType.sms, phone, region=settings.default_phone_region)
        for email in team_email or []:
            await services.add_team_member(conn, svc.id, TemplateType.email, email)
        return {"id": str(svc.id), "name": svc.name, "trial_mode": svc.restricted, "message_limit": svc.message_limit,
                "rate_limit": svc.rate_limit, "international_sms": svc.international_sms,
                "data_retention_days": svc.data_retention_days, "sms_sender_ids": senders, "reply_to_ids": replies}

    result = _admin(work)
    _emit(as_json, result, f"created service [bold]{result['name']}[/bold] {result['id']}")


@service_app.command("update")
def service_update(
    service: Annotated[uuid.UUID, typer.Option("--id", help="Service id.")],
    live: Annotated[bool | None, typer.Option("--live/--trial", help="Leave trial mode, or return to it.")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive")] = None,
    message_limit: Annotated[int | None, typer.Option(min=0)] = None,
    rate_limit: Annotated[int | None, typer.Option(min=1)] = None,
    international_sms: Annotated[bool | None, typer.Option("--international-sms/--no-international-sms")] = None,
    retention_days: Annotated[int | None, typer.Option(min=1, max=7)] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a service's mode, limits or retention."""
    from notify.catalogue import services

    async def work(conn: Any, settings: Settings) -> dict[str, Any]:
        svc = await services.update_service(
            conn, service, active=active, restricted=None if live is None else not live,
            message_limit=message_limit, rate_limit=rate_limit, international_sms=international_sms,
            data_retention_days=retention_days,
        )
        return {"id": str(svc.id), "name": svc.name, "active": svc.active, "trial_mode": svc.restricted,
                "message_limit": svc.message_limit, "rate_limit": svc.rate_limit,
                "international_sms": svc.international_sms, "data_retention_days": svc.data_retention_days}

    result = _admin(work)
    _emit(as_json, result, f"updated service [bold]{result['name']}[/bold] {result['id']}")


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

    result = _admin(work)
    _emit(as_json, result, f"created {result['type']} template [bold]{result['name']}[/bold] {result['id']}")


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

    result = _admin(work)
    _emit(as_json, result, f"template {result['id']} is at version {result['version']}")


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

    result = _admin(work)
    _emit(as_json, result, f"API key {result['id']} ({result['type']}):\n{result['key']}")


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

    result = _admin(work)
    _emit(as_json, result, f"revoked API key {result['id']}")


def main() -> None:
    app()
