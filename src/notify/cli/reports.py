"""`notify report`: the same CSV as the API's streamed report, written to a file with a progress bar."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from notify.cli.common import JsonOption, console, emit, fail, load_cli_settings
from notify.statuses import expand_filter


def report(
    service: Annotated[uuid.UUID, typer.Option(help="Service id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the CSV.")],
    days: Annotated[int, typer.Option(help="1, 3, 5 or 7 days back.")] = 7,
    job: Annotated[uuid.UUID | None, typer.Option(help="One job's report (with its original columns).")] = None,
    status: Annotated[list[str] | None, typer.Option(help="Only these statuses ('failed' for all failures).")] = None,
    template_type: Annotated[str | None, typer.Option(help="sms or email.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write a delivery report, recipients included, to a CSV file."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TransferSpeedColumn

    from notify.reports.query import ReportScope
    from notify.reports.stream import open_report
    from notify.runtime import open_runtime

    if days not in (1, 3, 5, 7):
        raise fail("--days must be 1, 3, 5 or 7")
    if template_type not in (None, "sms", "email"):
        raise fail("--template-type must be sms or email")
    try:
        statuses = frozenset(expand_filter(status or []))
    except ValueError as exc:
        raise fail(f"unknown status {exc}") from None
    settings = load_cli_settings()
    scope = ReportScope(
        service_id=service,
        since=None if job else datetime.now(UTC) - timedelta(days=days),
        statuses=statuses,
        template_type=template_type,
        job_id=job,
    )

    async def main() -> tuple[int, int]:
        async with open_runtime(settings) as runtime:
            stream = await open_report(runtime.engine, runtime.store, scope, filename=output.name)
            lines = size = 0
            with Progress(
                "{task.description}", BarColumn(), MofNCompleteColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
                console=console, transient=as_json,
            ) as progress, output.open("wb") as handle:
                bar = progress.add_task("writing report", total=stream.estimated_rows)
                async for chunk in stream.chunks:
                    handle.write(chunk)
                    size += len(chunk)
                    lines += chunk.count(b"\n")
                    progress.update(bar, completed=max(lines - 1, 0))
            return max(lines - 1, 0), size

    rows, size = asyncio.run(main())
    emit(as_json, {"output": str(output), "rows": rows, "bytes": size}, f"wrote {rows} rows to {output}")
