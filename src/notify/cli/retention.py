"""Retention from the command line: run the nightly job once, and the S3 lifecycle backstop."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from notify.cli.common import JsonOption, console, emit, fail, load_cli_settings

retention_app = typer.Typer(no_args_is_help=True, help="Retention: roll up statistics, delete expired data.")
storage_app = typer.Typer(no_args_is_help=True, help="Object storage.")


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--now") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@retention_app.command("run")
def retention_run(
    now: Annotated[
        str | None, typer.Option(help="Act as if it were this time (ISO 8601, UTC unless an offset is given).")
    ] = None,
    export_ttl_hours: Annotated[
        float | None, typer.Option(min=0, help="Delete export objects older than this (NOTIFY_EXPORT_TTL_HOURS).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the nightly retention once: facts, then expired notifications, then expired objects."""
    import asyncio

    from sqlalchemy.exc import ProgrammingError

    from notify.db.engine import create_engine
    from notify.retention import run_retention
    from notify.runtime import open_object_store, resolve_database_url
    from notify.storage import StorageError

    at = _parse_now(now)
    settings = load_cli_settings()

    async def main() -> dict[str, Any]:
        engine = create_engine(resolve_database_url(settings), pool_size=1)
        try:
            ttl = settings.export_ttl_hours if export_ttl_hours is None else export_ttl_hours
            report = await run_retention(engine, open_object_store(settings), now=at, export_ttl_hours=ttl)
        finally:
            await engine.dispose()
        return report.as_dict()

    try:
        result = asyncio.run(main())
    except StorageError as exc:
        raise fail(f"object storage failed, nothing after it was done (rerun to continue): {exc}") from None
    except ProgrammingError as exc:
        if "does not exist" in str(exc.orig):
            raise fail("the database has no Notify tables yet; run `notify db upgrade` first") from None
        raise
    emit(
        as_json,
        result,
        f"retention as of {result['now']}: {result['facts_upserted']} facts upserted, "
        f"{result['notifications_deleted']} notifications deleted, {result['jobs_archived']} jobs archived, "
        f"{result['objects_deleted']} objects deleted",
    )


@storage_app.command("lifecycle")
def storage_lifecycle(
    apply: Annotated[bool, typer.Option("--apply", help="Put the rules on the bucket of NOTIFY_STORAGE_URL.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the S3 lifecycle rules that back up retention (uploads 12 days, exports 2, multipart 1).

    With --apply, put them on the bucket with boto3 (other rules on the bucket are kept), using
    NOTIFY_STORAGE_ENDPOINT, NOTIFY_STORAGE_REGION and the NOTIFY_STORAGE_* credentials, or AWS_*.
    """
    from notify.retention.lifecycle import (
        LifecycleError,
        apply_lifecycle,
        lifecycle_configuration,
        s3_location,
    )

    settings = load_cli_settings()
    url = settings.resolved_storage_url
    location = None
    try:
        location = s3_location(url)
    except LifecycleError as exc:
        if apply:
            raise fail(str(exc)) from None
    configuration = lifecycle_configuration(location.prefix if location else "")
    if apply and location is not None:
        try:
            apply_lifecycle(
                location,
                configuration,
                endpoint=settings.storage_endpoint,
                region=settings.storage_region,
                access_key_id=settings.storage_access_key_id,
                secret_access_key=settings.storage_secret_access_key,
            )
        except LifecycleError as exc:
            raise fail(str(exc)) from None
    if as_json:
        emit(True, {"bucket": location.bucket if location else None, "prefix": location.prefix if location else None,
                    "applied": apply, "lifecycle_configuration": configuration}, "")
        return
    sys.stdout.write(json.dumps(configuration, indent=2) + "\n")
    if apply and location is not None:
        console.print(f"applied the lifecycle rules to bucket [bold]{location.bucket}[/bold]")
