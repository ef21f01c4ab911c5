"""/v2/notifications: send SMS and email, read one back, list with filters and paging."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from notify.api.auth import Caller, authenticate
from notify.api.checked_json import CheckedJsonRoute
from notify.api.errors import ApiError
from notify.api.responses import json_response
from notify.api.schemas import PostEmailRequest, PostSmsRequest
from notify.api.serialise import notification_json, template_ref
from notify.db.models import TemplateType
from notify.notifications import (
    PAGE_SIZE,
    NotificationFilter,
    NotificationNotFound,
    get_notification,
    list_notifications,
)
from notify.jobs.records import job_files
from notify.recipients.lookup import read_recipients
from notify.runtime import Runtime
from notify.sending.submit import SendRequest, SubmittedSend, submit_send
from notify.statuses import API_FILTERS, expand_filter
from notify.templates import RenderedEmail, RenderedSms

router = APIRouter(prefix="/v2/notifications", route_class=CheckedJsonRoute)

SCHEDULING_MESSAGE = "Cannot schedule notifications (this feature is invite-only)"


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(400, "ValidationError", f"{field} is not a valid UUID") from None


async def _submit(request: Request, caller: Caller, send: SendRequest, scheduled_for: str | None) -> SubmittedSend:
    if scheduled_for:
        raise ApiError(400, "BadRequestError", SCHEDULING_MESSAGE)
    return await submit_send(_runtime(request), caller.service, caller.api_key_id, caller.key_type, send)


def _created(request: Request, sent: SubmittedSend, reference: str | None, content: dict[str, Any]) -> Response:
    base = _runtime(request).settings.base_url
    return json_response(
        {
            "id": str(sent.notification_id),
            "reference": reference,
            "content": content,
            "uri": f"{base}/v2/notifications/{sent.notification_id}",
            "template": template_ref(base, sent.template.id, sent.template.version),
            "scheduled_for": None,
        },
        status_code=201,
    )


@router.post("/sms", status_code=201)
async def post_sms(
    body: PostSmsRequest, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> Response:
    send = SendRequest(TemplateType.sms, body.phone_number, body.template_id, body.personalisation or {},
                       body.reference, body.sms_sender_id)
    sent = await _submit(request, caller, send, body.scheduled_for)
    assert isinstance(sent.rendered, RenderedSms)
    content = {"body": sent.rendered.body, "from_number": sent.senders.sms_sender(body.sms_sender_id)}
    return _created(request, sent, body.reference, content)


@router.post("/email", status_code=201)
async def post_email(
    body: PostEmailRequest, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> Response:
    send = SendRequest(TemplateType.email, body.email_address, body.template_id, body.personalisation or {},
                       body.reference, body.email_reply_to_id)
    sent = await _submit(request, caller, send, body.scheduled_for)
    assert isinstance(sent.rendered, RenderedEmail)
    content = {
        "body": sent.rendered.body,
        "subject": sent.rendered.subject,
        "from_email": sent.senders.from_email,
        "one_click_unsubscribe_url": body.one_click_unsubscribe_url,
    }
    return _created(request, sent, body.reference, content)


@router.get("/{notification_id}")
async def get_one(
    notification_id: str, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> Response:
    runtime = _runtime(request)
    wanted = _uuid(notification_id, "notification_id")
    async with runtime.engine.connect() as conn:
        try:
            row = await get_notification(conn, caller.service.id, wanted)
        except NotificationNotFound:
            raise ApiError(404, "NoResultFound", "No result found") from None
        files = await job_files(conn, {row.job_id})
    recipients = await read_recipients(
        runtime.store, files, [(row.job_id, row.job_row_number)], default_region=runtime.settings.default_phone_region
    )
    return json_response(notification_json(row, recipients[(row.job_id, row.job_row_number)], runtime.settings.base_url))


@router.get("")
async def get_many(
    request: Request,
    caller: Annotated[Caller, Depends(authenticate)],
    template_type: Annotated[str | None, Query()] = None,
    status: Annotated[list[str] | None, Query()] = None,
    reference: Annotated[str | None, Query(max_length=1000)] = None,
    older_than: Annotated[str | None, Query()] = None,
    include_jobs: Annotated[str | None, Query()] = None,
) -> Response:
    runtime = _runtime(request)
    statuses = [s for value in status or [] for s in value.split(",") if s]
    try:
        wanted_statuses = frozenset(expand_filter(statuses))
    except ValueError as exc:
        allowed = ", ".join(sorted(API_FILTERS))
        raise ApiError(400, "ValidationError", f"status {exc} is not one of [{allowed}]") from None
    wanted_type: TemplateType | None = None
    if template_type:
        try:
            wanted_type = TemplateType(template_type)
        except ValueError:
            raise ApiError(400, "ValidationError", f"template_type {template_type} is not one of [sms, email]") from None
    anchor = _uuid(older_than, "older_than") if older_than else None
    if reference is not None and "\x00" in reference:
        raise ApiError(400, "ValidationError", "reference must not contain NUL characters")
    filters = NotificationFilter(
        statuses=wanted_statuses,
        template_type=wanted_type,
        reference=reference,
        include_jobs=(include_jobs or "").lower() in ("true", "1", "yes"),
    )
    async with runtime.engine.connect() as conn:
        rows = await list_notifications(conn, caller.service.id, filters, older_than=anchor, limit=PAGE_SIZE)
        files = await job_files(conn, {r.job_id for r in rows})
    recipients = await read_recipients(
        runtime.store, files, [(r.job_id, r.job_row_number) for r in rows],
        default_region=runtime.settings.default_phone_region,
    )
    base = runtime.settings.base_url
    query: list[tuple[str, Any]] = [("status", s) for s in statuses]
    if template_type:
        query.append(("template_type", template_type))
    if reference is not None:
        query.append(("reference", reference))
    if include_jobs:
        query.append(("include_jobs", include_jobs))
    links: dict[str, str] = {
        "current": f"{base}/v2/notifications?{urlencode(query + ([('older_than', older_than)] if older_than else []))}"
    }
    if rows:
        links["next"] = f"{base}/v2/notifications?{urlencode(query + [('older_than', str(rows[-1].id))])}"
    return json_response(
        {
            "notifications": [
                notification_json(r, recipients[(r.job_id, r.job_row_number)], base) for r in rows
            ],
            "links": links,
        }
    )
