"""/v2/template and /v2/templates: read templates and preview them with personalisation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from notify.api.auth import Caller, authenticate
from notify.api.checked_json import CheckedJsonRoute
from notify.api.errors import ApiError
from notify.api.responses import json_response, timestamp
from notify.api.schemas import PreviewRequest
from notify.catalogue.templates import (
    TemplateNotFound,
    TemplateRecord,
    get_template,
    get_template_version,
    list_templates,
)
from notify.db.models import TemplateType
from notify.runtime import Runtime
from notify.sending.submit import checked_personalisation
from notify.templates import render_email, render_sms

router = APIRouter(prefix="/v2", route_class=CheckedJsonRoute)


def _template_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(400, "ValidationError", "template_id is not a valid UUID") from None


def template_json(t: TemplateRecord) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "name": t.name,
        "type": t.template_type.value,
        "created_at": timestamp(t.created_at),
        "updated_at": timestamp(t.updated_at),
        "created_by": None,
        "version": t.version,
        "body": t.content,
        "subject": t.subject,
        "letter_contact_block": None,
        "postage": None,
        "personalisation": {name: {"required": True} for name in t.placeholders},
    }


async def _load(request: Request, caller: Caller, template_id: str, version: int | None = None) -> TemplateRecord:
    runtime: Runtime = request.app.state.runtime
    wanted = _template_id(template_id)
    async with runtime.engine.connect() as conn:
        try:
            if version is None:
                return await get_template(conn, caller.service.id, wanted)
            return await get_template_version(conn, caller.service.id, wanted, version)
        except TemplateNotFound:
            raise ApiError(404, "NoResultFound", "No result found") from None


@router.get("/template/{template_id}")
async def get_one(template_id: str, request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Response:
    return json_response(template_json(await _load(request, caller, template_id)))


@router.get("/template/{template_id}/version/{version}")
async def get_version(
    template_id: str, version: int, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> Response:
    return json_response(template_json(await _load(request, caller, template_id, version)))


@router.get("/templates")
async def get_all(
    request: Request, caller: Annotated[Caller, Depends(authenticate)], type: Annotated[str | None, Query()] = None
) -> Response:
    runtime: Runtime = request.app.state.runtime
    wanted: TemplateType | None = None
    if type:
        try:
            wanted = TemplateType(type)
        except ValueError:
            raise ApiError(400, "ValidationError", f"type {type} is not one of [sms, email]") from None
    async with runtime.engine.connect() as conn:
        templates = await list_templates(conn, caller.service.id, wanted)
    return json_response({"templates": [template_json(t) for t in templates]})


@router.post("/template/{template_id}/preview")
async def preview(
    template_id: str, body: PreviewRequest, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> Response:
    template = await _load(request, caller, template_id)
    runtime: Runtime = request.app.state.runtime
    personalisation = checked_personalisation(runtime.settings, body.personalisation or {})
    if template.template_type is TemplateType.sms:
        rendered_body, subject = render_sms(template.content, personalisation).body, None
    else:
        email = render_email(template.subject or "", template.content, personalisation)
        rendered_body, subject = email.body, email.subject
    return json_response(
        {
            "id": str(template.id),
            "type": template.template_type.value,
            "version": template.version,
            "body": rendered_body,
            "subject": subject,
            "html": None,
            "postage": None,
        }
    )
