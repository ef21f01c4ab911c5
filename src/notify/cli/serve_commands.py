"""Running the service: everything in one process, or the API and workers separately; migrations."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from notify.cli.common import console, load_cli_settings, run_async, with_address


db_app = typer.Typer(no_args_is_help=True, help="Database schema.")



def run(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
) -> None:
    """Everything in one process on embedded defaults: database, object store, API, worker."""
    from notify.bootstrap import ensure_demo, prepare_database
    from notify.serve import serve

    settings = with_address(load_cli_settings(), host, port)
    database_url = prepare_database(settings)
    demo = run_async(lambda: ensure_demo(settings, database_url))
    console.print(f"[bold green]Notify is running[/bold green] at [bold]{settings.base_url}[/bold]")
    console.print(f"  service id:        {demo.service_id}")
    console.print(f"  sms template id:   {demo.sms_template_id}")
    console.print(f"  email template id: {demo.email_template_id}")
    console.print(f"  API key (live):    {demo.api_key}", soft_wrap=True)
    console.print(f"  data:              {settings.data_dir.resolve()}")
    console.print("  Ctrl-C stops everything.")
    serve(settings, run_worker=True)



def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes.")] = 1,
) -> None:
    """Serve the HTTP API only (split deployments run workers separately)."""
    from notify.serve import serve

    serve(with_address(load_cli_settings(), host, port), run_worker=False, workers=workers)



def worker(concurrency: Annotated[int | None, typer.Option(min=1, max=64)] = None) -> None:
    """Run a queue worker: delivery, receipts and maintenance tasks."""
    from notify.runtime import open_runtime
    from notify.worker import run_worker

    settings = load_cli_settings()

    async def main() -> None:
        async with open_runtime(settings) as runtime:
            await run_worker(runtime, concurrency=concurrency, handle_signals=True)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        console.print("worker stopped")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations (our tables and the task queue's)."""
    from notify.db import migrate
    from notify.runtime import resolve_database_url

    settings = load_cli_settings()
    url = resolve_database_url(settings)
    migrate.upgrade(url, revision, secret_key=settings.ensure_secret_key())
    console.print(f"database at revision {migrate.current_revision(url)}")


@db_app.command("current")
def db_current() -> None:
    from notify.db import migrate
    from notify.runtime import resolve_database_url

    console.print(str(migrate.current_revision(resolve_database_url(load_cli_settings()))))
