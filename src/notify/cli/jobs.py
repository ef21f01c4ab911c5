"""Spreadsheet jobs from the command line: upload with a progress bar, follow live, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from notify.cli.common import JsonOption, T, console, emit, fail, load_cli_settings
from notify.config import Settings
from notify.db.models import KeyType

job_app = typer.Typer(no_args_is_help=True, help="Spreadsheet jobs: upload, follow, cancel.")


def _job_errors(exc: Exception) -> typer.Exit | None:
    from notify.jobs.intake import FileExceedsAllowance, InvalidSchedule
    from notify.jobs.processing import JobNotCancellable
    from notify.jobs.records import JobNotFound
    from notify.recipients.spreadsheet import FileRejected
    from notify.sending.lookups import TemplateUnusable, UnknownSender

    if isinstance(exc, FileRejected):
        console.print(f"[red]The file was not accepted:[/red] {exc.message}")
        for error in exc.errors[:20]:
            column = f", column '{error.column}'" if error.column else ""
            console.print(f"  row {error.spreadsheet_row}{column}: {error.reason}")
        if exc.total_errors > 20:
            console.print(f"  … {exc.total_errors - 20} more ({', '.join(f'{k}: {n}' for k, n in exc.error_counts.items())})")
        return typer.Exit(1)
    if isinstance(exc, JobNotFound):
        return fail("no such job for that service")
    if isinstance(exc, (TemplateUnusable, UnknownSender, InvalidSchedule, FileExceedsAllowance, JobNotCancellable)):
        return fail(str(exc))
    return None


@contextlib.contextmanager
def _job_errors_as_exit() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        failure = _job_errors(exc)
        if failure is None:
            raise
        raise failure from None


async def _with_engine(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from notify.db.engine import create_engine
    from notify.runtime import resolve_database_url

    engine = create_engine(resolve_database_url(settings), pool_size=1)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


@job_app.command("upload")
def job_upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV of recipients.")],
    service: Annotated[uuid.UUID, typer.Option(help="Service id.")],
    template: Annotated[uuid.UUID, typer.Option(help="Template id.")],
    scheduled_for: Annotated[datetime | None, typer.Option(help="Send later (UTC unless an offset is given).")] = None,
    sender_id: Annotated[uuid.UUID | None, typer.Option(help="SMS sender or email reply-to id.")] = None,
    test: Annotated[bool, typer.Option("--test", help="Like a test API key: nothing reaches a provider.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate and upload a spreadsheet, then start (or schedule) the job."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from notify.catalogue.services import get_service
    from notify.jobs.intake import UploadRequest, accept_upload
    from notify.runtime import open_runtime

    settings = load_cli_settings()
    size = file.stat().st_size

    async def main() -> Any:
        async with open_runtime(settings) as runtime:
            async with runtime.engine.connect() as conn:
                svc = await get_service(conn, service)
            with Progress(
                "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                console=console, transient=as_json,
            ) as progress:
                task = progress.add_task("validating and uploading", total=size)

                async def chunks() -> Any:
                    with file.open("rb") as handle:
                        while block := handle.read(1 << 20):
                            progress.advance(task, len(block))
                            yield block

                return await accept_upload(
                    runtime, svc, None, KeyType.test if test else KeyType.normal,
                    UploadRequest(template, file.name, scheduled_for, sender_id), chunks(),
                )

    with _job_errors_as_exit():
        job = asyncio.run(main())
    result = {"id": str(job.id), "status": job.status.value, "rows": job.row_count,
              "scheduled_for": job.scheduled_for.isoformat() if job.scheduled_for else None}
    emit(as_json, result, f"job [bold]{result['id']}[/bold]: {result['rows']} rows, {result['status']}")


@job_app.command("status")
def job_status(
    job: Annotated[uuid.UUID, typer.Argument(help="Job id.")],
    service: Annotated[uuid.UUID, typer.Option(help="Service id.")],
    watch: Annotated[bool, typer.Option("--watch", help="Follow progress live until the job ends.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a job's status and counts; --watch draws a live progress bar."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from notify.jobs.records import get_job

    settings = load_cli_settings()

    async def fetch() -> Any:
        async def read(engine: Any) -> Any:
            async with engine.connect() as conn:
                return await get_job(conn, service, job)

        return await _with_engine(settings, read)

    def summary(record: Any) -> dict[str, Any]:
        return {"id": str(record.id), "status": record.status.value, "rows": record.row_count,
                "counts": dict(record.counts)}

    with _job_errors_as_exit():
        record = asyncio.run(fetch())
        if watch and not as_json:
            with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console) as progress:
                bar = progress.add_task(record.status.value, total=record.row_count)
                while True:
                    done = sum(n for status, n in record.counts.items() if status != "created")
                    progress.update(bar, completed=done, description=record.status.value)
                    if record.status.value in ("finished", "cancelled", "error"):
                        break
                    time.sleep(0.5)
                    record = asyncio.run(fetch())
    result = summary(record)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result["counts"].items())) or "no notifications yet"
    emit(as_json, result, f"job {result['id']}: {result['status']}, {result['rows']} rows ({counts})")


@job_app.command("cancel")
def job_cancel(
    job: Annotated[uuid.UUID, typer.Argument(help="Job id.")],
    service: Annotated[uuid.UUID, typer.Option(help="Service id.")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a scheduled or running job; messages not yet sent are not sent."""
    from notify.jobs.processing import cancel_job

    settings = load_cli_settings()
    with _job_errors_as_exit():
        unsent = asyncio.run(_with_engine(settings, lambda engine: cancel_job(engine, service, job)))
    emit(as_json, {"id": str(job), "status": "cancelled", "unsent": unsent},
          f"job {job} cancelled; {unsent} messages will not be sent")
