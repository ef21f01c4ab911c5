"""Delivery receipts from the command line: run or catch up the CloudWatch poller by hand.

The worker runs the same poller as a periodic task; this command is for operators who want to
watch it catch up after an outage, or re-read a period (``--since``) after fixing a setting.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from notify.cli.common import JsonOption, console, emit, fail, load_cli_settings

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from notify.receipts.cloudwatch import PollReport, WindowRead

receipts_app = typer.Typer(no_args_is_help=True, help="Delivery receipts.")

# Longest wait between rounds after CloudWatch errors (throttling, outage).
MAX_BACKOFF_SECONDS = 300.0


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--since") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _WindowProgress:
    """One progress bar per log group, from its first window's start to this round's target."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, tuple[TaskID, datetime]] = {}

    def __call__(self, read: WindowRead) -> None:
        if read.log_group not in self._tasks:
            total = max((read.target - read.start).total_seconds(), 1.0)
            self._tasks[read.log_group] = (self._progress.add_task(read.log_group, total=total), read.start)
        task, first = self._tasks[read.log_group]
        self._progress.update(task, completed=(read.end - first).total_seconds())
        if not read.events:  # the bar shows progress; a line only for windows that held something
            return
        self._progress.console.print(
            f"{read.log_group}  {read.start:%Y-%m-%d %H:%M:%S} .. {read.end:%H:%M:%S}  "
            f"{read.events} events, {read.changed} applied, {read.skipped} skipped",
            highlight=False,
        )


def _summary(report: PollReport) -> str:
    totals = report.totals()
    lines = [
        f"{totals['windows']} windows, {totals['events']} events, {totals['changed']} notifications updated, "
        f"{totals['skipped']} events skipped"
    ]
    for group in report.groups:
        state = f"error {group.error}" if group.error else "does not exist yet" if group.missing else "ok"
        read_to = group.read_to.isoformat() if group.read_to else "never"
        lines.append(f"  {group.log_group}: read to {read_to} ({state})")
    return "\n".join(lines)


@receipts_app.command("poll-cloudwatch")
def poll_cloudwatch(
    once: Annotated[bool, typer.Option("--once", help="Catch up once, then exit.")] = False,
    since: Annotated[
        str | None,
        typer.Option(help="Also re-read from this time (ISO 8601, UTC unless an offset is given); never skips ahead."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Apply SNS SMS delivery status from CloudWatch Logs, from each log group's persisted watermark.

    Uses the NOTIFY_CLOUDWATCH_* settings; NOTIFY_CLOUDWATCH_RECEIPTS need not be on.

    Without --once it polls every NOTIFY_CLOUDWATCH_POLL_SECONDS until Ctrl-C, backing off after errors.

    With --once it exits 1 if CloudWatch could not be read; nothing unread is skipped, so rerun.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from sqlalchemy.exc import ProgrammingError

    from notify.db.engine import create_engine
    from notify.receipts.cloudwatch import CloudWatchReceiptPoller, PollerConfig
    from notify.receipts.cloudwatch_logs import LogWindowReader
    from notify.runtime import resolve_database_url

    start_at = _parse_time(since)
    settings = load_cli_settings()
    config = PollerConfig.from_settings(settings)
    if not config.log_groups:
        raise fail("set NOTIFY_CLOUDWATCH_LOG_GROUPS, or NOTIFY_CLOUDWATCH_REGION and NOTIFY_CLOUDWATCH_ACCOUNT_ID")

    async def main() -> dict[str, Any]:
        engine = create_engine(resolve_database_url(settings), pool_size=1)
        reader = LogWindowReader.from_settings(settings)
        failures = 0
        first = True
        try:
            while True:
                columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
                with Progress(*columns, console=console, transient=True, disable=as_json) as progress:
                    poller = CloudWatchReceiptPoller(
                        engine, reader, config, on_window=None if as_json else _WindowProgress(progress)
                    )
                    report = await poller.poll(since=start_at if first else None)
                first = False
                failures = failures + 1 if report.errors else 0
                if once:
                    return report.as_dict() | {"summary": _summary(report)}
                if report.errors or report.totals()["windows"]:
                    emit(as_json, report.as_dict(), _summary(report))
                wait = settings.cloudwatch_poll_seconds * 2 ** min(failures, 10)
                await asyncio.sleep(min(wait, max(MAX_BACKOFF_SECONDS, settings.cloudwatch_poll_seconds)))
        finally:
            reader.close()
            await engine.dispose()

    try:
        result = asyncio.run(main())
    except KeyboardInterrupt:
        console.print("stopped; the next run continues from the saved watermark")
        return
    except ProgrammingError as exc:
        if "does not exist" in str(exc.orig):
            raise fail("the database has no Notify tables yet; run `notify db upgrade` first") from None
        raise
    summary = result.pop("summary")
    emit(as_json, result, summary)
    if result["errors"]:
        raise fail("CloudWatch could not be read for " + ", ".join(
            f"{group} ({code})" for group, code in result["errors"].items()
        ) + "; the watermark stays where it was, rerun to continue")
