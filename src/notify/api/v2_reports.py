"""Streamed delivery reports as CSV: the last 1, 3, 5 or 7 days, or one job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response, StreamingResponse

from notify.api.auth import Caller, authenticate
from notify.api.checked_json import CheckedJsonRoute
from notify.api.errors import ApiError
from notify.api.responses import json_response, timestamp
from notify.jobs.records import JobNotFound, get_job
from notify.reports.exports import (
    ExportLimits,
    ExportNotFound,
    ExportRecord,
    ExportStatus,
    create_export,
    get_export,
)
from notify.reports.query import ReportScope
from notify.storage import ObjectNotFound
from notify.reports.stream import ReportStream, open_report
from notify.runtime import Runtime
from notify.statuses import API_FILTERS, expand_filter

router = APIRouter(prefix="/v2", route_class=CheckedJsonRoute)

REPORT_DAYS = (1, 3, 5, 7)


def _statuses(values: list[str] | None) -> frozenset:  # type: ignore[type-arg]
    wanted = [s for value in values or [] for s in value.split(",") if s]
    try:
        return frozenset(expand_filter(wanted))
    except ValueError as exc:
        raise ApiError(400, "ValidationError", f"status {exc} is not one of [{', '.join(sorted(API_FILTERS))}]") from None


def _csv_response(report: ReportStream) -> StreamingResponse:
    return StreamingResponse(
        report.chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{report.filename}"',
            "X-Report-Rows-Estimate": str(report.estimated_rows),
            "Cache-Control": "no-store",
        },
    )


@router.get("/reports/notifications.csv")
async def notifications_report(
    request: Request,
    caller: Annotated[Caller, Depends(authenticate)],
    days: Annotated[int, Query()] = 7,
    status: Annotated[list[str] | None, Query()] = None,
    template_type: Annotated[str | None, Query()] = None,
) -> StreamingResponse:
    if days not in REPORT_DAYS:
        raise ApiError(400, "ValidationError", "days must be one of 1, 3, 5 or 7")
    if template_type not in (None, "sms", "email"):
        raise ApiError(400, "ValidationError", f"template_type {template_type} is not one of [sms, email]")
    runtime: Runtime = request.app.state.runtime
    now = datetime.now(UTC)
    scope = ReportScope(
        service_id=caller.service.id,
        since=now - timedelta(days=days),
        statuses=_statuses(status),
        template_type=template_type,
    )
    name = f"notifications-{days}-days-{now:%Y-%m-%d}.csv"
    return _csv_response(await open_report(runtime.engine, runtime.store, scope, filename=name))


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = 7
    status: list[str] | None = None
    template_type: str | None = None
    job_id: uuid.UUID | None = None


def export_json(export: ExportRecord, base_url: str, url: str | None) -> dict[str, Any]:
    return {
        "id": str(export.id),
        "status": export.status.value,
        "row_count": export.row_count,
        "progress": {"rows_written": export.rows_written, "estimated_rows": export.estimated_rows},
        "created_at": timestamp(export.created_at),
        "completed_at": timestamp(export.completed_at),
        "expires_at": timestamp(export.expires_at),
        "content_uri": f"{base_url}/v2/reports/{export.id}/content",
        "url": url,
    }


@router.post("/reports", status_code=202)
async def request_export(
    body: ExportRequest, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> Response:
    if body.days not in REPORT_DAYS:
        raise ApiError(400, "ValidationError", "days must be one of 1, 3, 5 or 7")
    if body.template_type not in (None, "sms", "email"):
        raise ApiError(400, "ValidationError", f"template_type {body.template_type} is not one of [sms, email]")
    runtime: Runtime = request.app.state.runtime
    now = datetime.now(UTC)
    scope = ReportScope(
        service_id=caller.service.id,
        since=None if body.job_id else now - timedelta(days=body.days),
        statuses=_statuses(body.status),
        template_type=body.template_type,
        job_id=body.job_id,
    )
    async with runtime.engine.begin() as conn:
        if body.job_id is not None:
            try:
                await get_job(conn, caller.service.id, body.job_id, with_counts=False)
            except JobNotFound:
                raise ApiError(400, "BadRequestError", "job_id does not exist for this service") from None
        export = await create_export(
            conn, scope, ttl=timedelta(hours=runtime.settings.export_ttl_hours),
            retention_days=caller.service.data_retention_days, now=now,
            limits=ExportLimits(runtime.settings.export_max_concurrent, runtime.settings.export_max_per_day),
        )
        await runtime.defer_export(conn, export.id)
    return json_response({"data": export_json(export, runtime.settings.base_url, None)}, status_code=202)


async def _export(request: Request, caller: Caller, report_id: str) -> ExportRecord:
    try:
        wanted = uuid.UUID(report_id)
    except ValueError:
        raise ApiError(400, "ValidationError", "report_id is not a valid UUID") from None
    runtime: Runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        try:
            export = await get_export(conn, caller.service.id, wanted)
        except ExportNotFound:
            raise ApiError(404, "NoResultFound", "No result found") from None
    if export.status is ExportStatus.expired or (
        export.status is ExportStatus.ready and export.expires_at <= datetime.now(UTC)
    ):
        raise ApiError(410, "ReportExpired", "This report has expired; request a new one")
    return export


@router.get("/reports/{report_id}")
async def export_status(report_id: str, request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Response:
    runtime: Runtime = request.app.state.runtime
    export = await _export(request, caller, report_id)
    url = None
    if export.status is ExportStatus.ready:
        remaining = export.expires_at - datetime.now(UTC)
        url = await runtime.store.presigned_get_url(export.object_key, min(remaining, timedelta(hours=1)))
    return json_response({"data": export_json(export, runtime.settings.base_url, url)})


@router.get("/reports/{report_id}/content")
async def export_content(
    report_id: str, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> StreamingResponse:
    runtime: Runtime = request.app.state.runtime
    export = await _export(request, caller, report_id)
    if export.status is not ExportStatus.ready:
        raise ApiError(409, "ReportNotReady", f"The report is not ready yet (status: {export.status.value})")
    try:
        await runtime.store.head(export.object_key)
    except ObjectNotFound:
        raise ApiError(410, "ReportExpired", "This report has expired; request a new one") from None
    return StreamingResponse(
        runtime.store.stream(export.object_key),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{export.id}.csv"', "Cache-Control": "no-store"},
    )


@router.get("/jobs/{job_id}/report.csv")
async def job_report(job_id: str, request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> StreamingResponse:
    try:
        wanted = uuid.UUID(job_id)
    except ValueError:
        raise ApiError(400, "ValidationError", "job_id is not a valid UUID") from None
    runtime: Runtime = request.app.state.runtime
    scope = ReportScope(service_id=caller.service.id, job_id=wanted)
    report = await open_report(runtime.engine, runtime.store, scope, filename=f"job-{wanted}.csv")
    if report.estimated_rows == 0:
        async with runtime.engine.connect() as conn:
            try:
                await get_job(conn, caller.service.id, wanted, with_counts=False)
            except JobNotFound:
                raise ApiError(404, "NoResultFound", "No result found") from None
    return _csv_response(report)
