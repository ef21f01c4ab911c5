"""The edge where domain errors become Notify's v2 error JSON.

Every failure leaves as ``{"status_code": N, "errors": [{"error": ..., "message": ...}]}``, the
shape the official clients parse; nothing below the route layer knows about HTTP.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from notify.log_config import get_logger
from notify.recipients.email import InvalidEmailAddress
from notify.recipients.phone import InvalidPhoneNumber
from notify.sending.group_commit import BatchFailed, RateLimitExceeded, SendLimitExceeded
from notify.sending.submit import RecipientNotAllowed, ServiceInactive, TemplateUnusable, UnknownSender
from notify.templates import EmptyMessage, MissingPersonalisation, SmsTooLong

logger = get_logger(__name__)


class ApiError(Exception):
    """An error already phrased for the API: raised by routes and dependencies only."""

    def __init__(self, status_code: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status_code, self.error, self.message = status_code, error, message


def error_response(status_code: int, errors: list[dict[str, str]], headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"status_code": status_code, "errors": errors}),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def _one(status_code: int, error: str, message: str) -> Response:
    return error_response(status_code, [{"error": error, "message": message}])


def _validation_message(err: dict[str, Any]) -> str:
    """Phrase pydantic errors the way Notify's jsonschema validation does, without echoing input values."""
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc)
    kind = err.get("type", "")
    if kind == "missing":
        return f"{field} is a required property" if field else "Invalid JSON supplied in POST data"
    if kind == "extra_forbidden":
        return f"Additional properties are not allowed ({field} was unexpected)"
    if kind == "json_invalid":
        return "Invalid JSON supplied in POST data"
    if kind in ("uuid_parsing", "uuid_type"):
        return f"{field} is not a valid UUID"
    if kind in ("model_type", "model_attributes_type") and not field:
        return "Request body must be a JSON object"
    if kind in ("dict_type", "model_type"):
        return f"{field} should be an object"
    if kind == "string_type":
        return f"{field} should be a string"
    if kind == "string_too_long":
        return f"{field} is too long"
    if kind == "string_too_short":
        return f"{field} is too short"
    if kind in ("int_parsing", "int_type"):
        return f"{field} should be an integer"
    if kind == "literal_error" or kind == "enum":
        return f"{field} {err.get('msg', 'is not one of the allowed values')}"
    return f"{field} {err.get('msg', 'is invalid')}".strip()


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return _one(exc.status_code, exc.error, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = [{"error": "ValidationError", "message": _validation_message(e)} for e in exc.errors()]
        return error_response(400, errors or [{"error": "ValidationError", "message": "Invalid request"}])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        names = {404: "ResourceNotFound", 405: "MethodNotAllowed", 413: "RequestTooLarge"}
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404:
            message = "The requested URL was not found on the server"
        return _one(exc.status_code, names.get(exc.status_code, "BadRequestError"), message)

    @app.exception_handler(InvalidPhoneNumber)
    async def _phone(_: Request, exc: InvalidPhoneNumber) -> Response:
        return _one(400, "ValidationError", f"phone_number {exc.reason}")

    @app.exception_handler(InvalidEmailAddress)
    async def _email(_: Request, exc: InvalidEmailAddress) -> Response:
        return _one(400, "ValidationError", f"email_address {exc.reason}")

    @app.exception_handler(MissingPersonalisation)
    async def _missing(_: Request, exc: MissingPersonalisation) -> Response:
        return _one(400, "BadRequestError", "Missing personalisation: " + ", ".join(exc.names))

    @app.exception_handler(EmptyMessage)
    async def _empty(_: Request, exc: EmptyMessage) -> Response:
        return _one(400, "BadRequestError", "Your message is empty.")

    @app.exception_handler(SmsTooLong)
    async def _too_long(_: Request, exc: SmsTooLong) -> Response:
        return _one(400, "BadRequestError", str(exc))

    @app.exception_handler(TemplateUnusable)
    async def _template(_: Request, exc: TemplateUnusable) -> Response:
        return _one(400, "BadRequestError", str(exc))

    @app.exception_handler(RecipientNotAllowed)
    async def _recipient(_: Request, exc: RecipientNotAllowed) -> Response:
        return _one(400, "BadRequestError", str(exc))

    @app.exception_handler(UnknownSender)
    async def _sender(_: Request, exc: UnknownSender) -> Response:
        return _one(400, "BadRequestError", str(exc))

    @app.exception_handler(ServiceInactive)
    async def _inactive(_: Request, exc: ServiceInactive) -> Response:
        return _one(403, "BadRequestError", "Service is not active")

    @app.exception_handler(SendLimitExceeded)
    async def _daily(_: Request, exc: SendLimitExceeded) -> Response:
        return _one(429, "TooManyRequestsError", str(exc))

    @app.exception_handler(RateLimitExceeded)
    async def _rate(_: Request, exc: RateLimitExceeded) -> Response:
        return _one(429, "RateLimitError", str(exc))

    @app.exception_handler(BatchFailed)
    async def _batch(_: Request, exc: BatchFailed) -> Response:
        return _one(503, "ServiceUnavailableError", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        # The exception itself may hold request data; log only its type.
        logger.error("unhandled error", action="api.unhandled", error=type(exc).__name__)
        return _one(500, "Exception", "Internal server error")
