"""/v2/jobs and /v2/notifications/bulk: upload spreadsheets, follow and cancel jobs."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import Response

from notify.api.auth import Caller, authenticate
from notify.api.checked_json import CheckedJsonRoute
from notify.api.errors import ApiError
from notify.api.multipart_stream import open_upload
from notify.api.responses import json_response, timestamp
from notify.api.schemas import Text
from notify.api.serialise import notification_json, template_ref
from notify.jobs.intake import UploadRequest, accept_upload
from notify.jobs.processing import JobNotCancellable, cancel_job
from notify.jobs.records import JobNotFound, JobRecord, get_job, list_jobs
from notify.notifications import list_job_notifications
from notify.recipients.lookup import read_recipients
from notify.runtime import Runtime
from notify.statuses import FAILED, FINAL, Status
from notify.templates.personalisation import scalar_text

router = APIRouter(prefix="/v2", route_class=CheckedJsonRoute)

PAGE_SIZE = 250
BULK_CHUNK_ROWS = 1000


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _uuid(value: str | None, field: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(400, "ValidationError", f"{field} is not a valid UUID") from None


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "ValidationError", "scheduled_for is not a valid ISO 8601 date-time") from None


def job_json(job: JobRecord, base_url: str) -> dict[str, Any]:
    counts = {status: n for status, n in job.counts.items()}
    processed = sum(n for status, n in counts.items() if status != Status.created.value)
    finished = sum(n for status, n in counts.items() if status in {s.value for s in FINAL})
    return {
        "id": str(job.id),
        "name": job.original_file_name,
        "status": job.status.value,
        "template": template_ref(base_url, job.template_id, job.template_version or 1) if job.template_id else None,
        "template_type": job.template_type,
        "row_count": job.row_count,
        "created_at": timestamp(job.created_at),
        "scheduled_for": timestamp(job.scheduled_for),
        "processing_started": timestamp(job.processing_started),
        "processing_finished": timestamp(job.processing_finished),
        "statistics": [{"status": status, "count": n} for status, n in sorted(counts.items())],
        "progress": {
            "total": job.row_count,
            "processed": processed,
            "finished": finished,
            "failed": sum(n for status, n in counts.items() if status in {s.value for s in FAILED}),
            "percent_processed": round(100 * processed / job.row_count, 1) if job.row_count else 100.0,
        },
        "uri": f"{base_url}/v2/jobs/{job.id}",
    }


async def _accept(
    request: Request, caller: Caller, upload: UploadRequest, chunks: AsyncIterator[bytes]
) -> Response:
    runtime = _runtime(request)
    job = await accept_upload(runtime, caller.service, caller.api_key_id, caller.key_type, upload, chunks)
    return json_response({"data": job_json(job, runtime.settings.base_url)}, status_code=201)


@router.post("/jobs", status_code=201)
async def upload_job(request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Response:
    """multipart/form-data: ``template_id``, optional ``scheduled_for`` and ``sender_id``, then ``file``.

    Fields may also be query parameters. They must come before the file part, because the file is
    validated as it streams in.
    """
    upload = await open_upload(request)
    fields = {**dict(request.query_params), **upload.fields}
    template_id = _uuid(fields.get("template_id"), "template_id")
    if template_id is None:
        raise ApiError(
            400, "ValidationError",
            "template_id is a required property (send it before the file part, or as a query parameter)",
        )
    return await _accept(
        request,
        caller,
        UploadRequest(
            template_id=template_id,
            file_name=upload.filename,
            scheduled_for=_when(fields.get("scheduled_for")),
            sender_id=_uuid(fields.get("sender_id"), "sender_id"),
        ),
        upload.chunks,
    )


class BulkRequest(BaseModel):
    """GC Notify's bulk API: either ``rows`` (header first) or ``csv``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: Text = Field(min_length=1, max_length=255)
    template_id: uuid.UUID
    rows: list[list[str | bool | int | float | None]] | None = None
    csv: str | None = None
    scheduled_for: str | None = None
    reply_to_id: uuid.UUID | None = None
    sms_sender_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BulkRequest:
        if (self.rows is None) == (self.csv is None):
            raise ValueError("You should specify either rows or csv")
        return self


async def _rows_as_csv(rows: list[list[Any]]) -> AsyncIterator[bytes]:
    for start in range(0, len(rows), BULK_CHUNK_ROWS):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        # Numbers and true/false become their JSON text, as in personalisation (never Python's "True").
        chunk = rows[start : start + BULK_CHUNK_ROWS]
        writer.writerows(["" if cell is None else scalar_text(cell) for cell in row] for row in chunk)
        yield buffer.getvalue().encode("utf-8")


async def _text_chunks(text: str) -> AsyncIterator[bytes]:
    data = text.encode("utf-8")
    for start in range(0, len(data), 1 << 20):
        yield data[start : start + (1 << 20)]


@router.post("/notifications/bulk", status_code=201)
async def bulk(body: BulkRequest, request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Response:
    chunks = _rows_as_csv(body.rows) if body.rows is not None else _text_chunks(body.csv or "")
    return await _accept(
        request,
        caller,
        UploadRequest(
            template_id=body.template_id,
            file_name=body.name,
            scheduled_for=_when(body.scheduled_for),
            sender_id=body.sms_sender_id or body.reply_to_id,
        ),
        chunks,
    )


async def _job(request: Request, caller: Caller, job_id: str) -> JobRecord:
    wanted = _uuid(job_id, "job_id")
    assert wanted is not None
    async with _runtime(request).engine.connect() as conn:
        try:
            return await get_job(conn, caller.service.id, wanted)
        except JobNotFound:
            raise ApiError(404, "NoResultFound", "No result found") from None


@router.get("/jobs")
async def jobs(
    request: Request,
    caller: Annotated[Caller, Depends(authenticate)],
    older_than: Annotated[str | None, Query()] = None,
) -> Response:
    runtime = _runtime(request)
    anchor = _uuid(older_than, "older_than")
    async with runtime.engine.connect() as conn:
        found = await list_jobs(conn, caller.service.id, older_than=anchor, limit=PAGE_SIZE)
    base = runtime.settings.base_url
    links = {"current": f"{base}/v2/jobs" + (f"?older_than={older_than}" if older_than else "")}
    if found:
        links["next"] = f"{base}/v2/jobs?older_than={found[-1].id}"
    return json_response({"jobs": [job_json(j, base) for j in found], "links": links})


@router.get("/jobs/{job_id}")
async def job(job_id: str, request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Response:
    return json_response({"data": job_json(await _job(request, caller, job_id), _runtime(request).settings.base_url)})


@router.post("/jobs/{job_id}/cancel")
async def cancel(job_id: str, request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Response:
    found = await _job(request, caller, job_id)
    runtime = _runtime(request)
    try:
        await cancel_job(runtime.engine, caller.service.id, found.id)
    except JobNotCancellable as exc:
        raise ApiError(400, "BadRequestError", str(exc)) from None
    return json_response({"data": job_json(await _job(request, caller, job_id), runtime.settings.base_url)})


@router.get("/jobs/{job_id}/notifications")
async def job_notifications(
    job_id: str,
    request: Request,
    caller: Annotated[Caller, Depends(authenticate)],
    from_row: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """One page of a job's notifications in row order, each with its recipient and row number.

    Only the rows on the page are read from the file (one ranged GET through the row index).
    """
    found = await _job(request, caller, job_id)
    runtime = _runtime(request)
    async with runtime.engine.connect() as conn:
        rows = await list_job_notifications(conn, caller.service.id, found.id, from_row=from_row, limit=PAGE_SIZE)
    recipients = await read_recipients(
        runtime.store, {found.id: found.file}, [(r.job_id, r.job_row_number) for r in rows],
        default_region=runtime.settings.default_phone_region,
    )
    base = runtime.settings.base_url
    links = {"current": f"{base}/v2/jobs/{found.id}/notifications?{urlencode({'from_row': from_row})}"}
    if len(rows) == PAGE_SIZE:
        links["next"] = f"{base}/v2/jobs/{found.id}/notifications?{urlencode({'from_row': rows[-1].job_row_number + 1})}"
    return json_response(
        {
            "notifications": [notification_json(r, recipients[(r.job_id, r.job_row_number)], base) for r in rows],
            "links": links,
        }
    )
