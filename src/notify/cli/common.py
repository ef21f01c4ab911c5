"""Shared pieces of the `notify` command: settings, output, errors."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from notify.config import ConfigError, Settings, load_settings
from notify.log_config import configure_logging

console = Console(stderr=True)
T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def load_cli_settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    configure_logging(settings.resolved_log_format, settings.log_level)
    return settings


def with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    """Command-line --host/--port win over NOTIFY_HOST/NOTIFY_PORT."""
    return settings.model_copy(
        update={k: v for k, v in (("host", host), ("port", port)) if v is not None}
    )


def fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    else:
        console.print(human)


def run_async(coro: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro())  # type: ignore[arg-type]


def run_admin(work: Callable[[Any, Settings], Awaitable[T]]) -> T:
    """Run ``work(conn, settings)`` in one committed transaction; domain errors become clear exits."""
    from sqlalchemy.exc import ProgrammingError

    from notify.catalogue.callbacks import InvalidCallback
    from notify.catalogue.keys import ApiKeyNotFound
    from notify.catalogue.services import InvalidService, ServiceNotFound
    from notify.catalogue.templates import InvalidTemplate, TemplateNotFound
    from notify.db.engine import create_engine
    from notify.recipients.email import InvalidEmailAddress
    from notify.recipients.phone import InvalidPhoneNumber
    from notify.runtime import resolve_database_url
    from notify.templates import SmsTooLong

    settings = load_cli_settings()
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
    except (InvalidService, InvalidTemplate, InvalidCallback, SmsTooLong, InvalidPhoneNumber,
            InvalidEmailAddress) as exc:
        raise fail(str(exc)) from None
    except ServiceNotFound:
        raise fail("no such service; `notify service create` makes one") from None
    except TemplateNotFound:
        raise fail("no such template for that service") from None
    except ApiKeyNotFound:
        raise fail("no such API key for that service") from None
    except ProgrammingError as exc:
        if "does not exist" in str(exc.orig):
            raise fail("the database has no Notify tables yet; run `notify db upgrade` first") from None
        raise
