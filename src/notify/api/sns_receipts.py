"""POST /notifications/receipts/sns: delivery receipts from Amazon SNS (SES and SMS events).

No API key: SNS cannot send one. The SNS message signature is the authentication, checked in
notify.receipts.sns_webhook; this route only bounds the body and hands it over. SNS posts JSON
with ``Content-Type: text/plain``, so the body is read raw rather than through a pydantic model.
Not in the OpenAPI schema: it is AWS's endpoint, not the v2 API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from notify.api.errors import ApiError
from notify.api.responses import json_response
from notify.receipts.sns_webhook import MAX_BODY_BYTES
from notify.runtime import Runtime

router = APIRouter()


def _too_large() -> ApiError:
    return ApiError(413, "RequestTooLarge", "An SNS message is at most 256 KB")


@router.post("/notifications/receipts/sns", include_in_schema=False)
async def sns_receipts(request: Request) -> Response:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _too_large()
    runtime: Runtime = request.app.state.runtime
    result = await runtime.sns_webhook.receive(bytes(body))
    return json_response({"result": result})
