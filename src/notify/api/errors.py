"""The edge where domain errors become Notify's v2 error JSON.

Every failure leaves as ``{"status_code": N, "errors": [{"error": ..., "message": ...}]}``, the
shape the official clients parse; nothing below the route layer knows about HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from notify.api.multipart_stream import MalformedUpload
from notify.catalogue.cache import CatalogueUnavailable
from notify.db.commit_outcome import CommitOutcomeUnknown
from notify.jobs.intake import FileExceedsAllowance, InvalidSchedule
from notify.log_config import get_logger
from notify.receipts.batcher import ReceiptBatchFailed
from notify.receipts.sns_signature import SnsMessageInvalid, SnsMessageUnauthentic, SnsUnavailable
from notify.receipts.sns_webhook import SnsMessageReplayed
from notify.recipients.spreadsheet import FileRejected
from notify.reports.exports import ExportLimitExceeded
from notify.recipients.email import InvalidEmailAddress
from notify.recipients.phone import InvalidPhoneNumber
from notify.sending.group_commit import BatchFailed, RateLimitExceeded, SendLimitExceeded
from notify.sending.lookups import TemplateUnusable, UnknownSender
from notify.sending.submit import RecipientNotAllowed, ServiceInactive
from notify.storable_text import UnstorableText
from notify.templates.personalisation import PersonalisationRejected
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
    message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    return f"{field} {message}".strip()


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

    @app.exception_handler(FileRejected)
    async def _file(_: Request, exc: FileRejected) -> Response:
        return file_rejected_response(exc)

    for exc_type, (status, error, message) in DOMAIN_ERRORS.items():
        app.add_exception_handler(exc_type, _domain_handler(status, error, message))


def _domain_handler(status: int, error: str, message: Callable[[Any], str]) -> Callable[[Request, Any], Awaitable[Response]]:
    async def handle(_: Request, exc: Exception) -> Response:
        return _one(status, error, message(exc))

    return handle


# Domain errors, defined next to the code that raises them, and how the v2 API phrases each one.
DOMAIN_ERRORS: dict[type[Exception], tuple[int, str, Callable[[Any], str]]] = {
    InvalidPhoneNumber: (400, "ValidationError", lambda e: f"phone_number {e.reason}"),
    InvalidEmailAddress: (400, "ValidationError", lambda e: f"email_address {e.reason}"),
    MissingPersonalisation: (400, "BadRequestError", lambda e: "Missing personalisation: " + ", ".join(e.names)),
    EmptyMessage: (400, "BadRequestError", lambda e: "Your message is empty."),
    SmsTooLong: (400, "BadRequestError", str),
    TemplateUnusable: (400, "BadRequestError", str),
    RecipientNotAllowed: (400, "BadRequestError", str),
    UnknownSender: (400, "BadRequestError", str),
    ServiceInactive: (403, "BadRequestError", lambda e: "Service is not active"),
    SendLimitExceeded: (429, "TooManyRequestsError", str),
    RateLimitExceeded: (429, "RateLimitError", str),
    BatchFailed: (503, "ServiceUnavailableError", str),
    MalformedUpload: (400, "ValidationError", str),
    InvalidSchedule: (400, "ValidationError", str),
    FileExceedsAllowance: (429, "TooManyRequestsError", str),
    SnsMessageInvalid: (400, "ValidationError", str),
    SnsMessageUnauthentic: (403, "AuthError", str),
    SnsMessageReplayed: (409, "ConflictError", str),
    SnsUnavailable: (503, "ServiceUnavailableError", str),
    ReceiptBatchFailed: (503, "ServiceUnavailableError", str),
    CatalogueUnavailable: (503, "ServiceUnavailableError", str),
    ExportLimitExceeded: (429, "TooManyRequestsError", str),
    PersonalisationRejected: (400, "ValidationError", str),
    UnstorableText: (400, "ValidationError", str),
    CommitOutcomeUnknown: (503, "ServiceUnavailableError", str),
}


def file_rejected_response(exc: FileRejected) -> Response:
    """A rejected spreadsheet: the v2 error list (first 100 problems) plus counts by kind.

    The extra keys sit beside ``errors`` so the official clients still read the standard shape.
    """
    errors = [{"error": "ValidationError", "message": exc.message}]
    errors += [
        {
            "error": "ValidationError",
            "message": f"Row {e.spreadsheet_row}" + (f", column '{e.column}'" if e.column else "") + f": {e.reason}",
        }
        for e in exc.errors
    ]
    body = {
        "status_code": 400,
        "errors": errors,
        "file_errors": {
            "kind": exc.kind,
            "total": exc.total_errors,
            "counts": exc.error_counts,
            "rows": [
                {"row": e.spreadsheet_row, "row_number": e.row_number, "column": e.column, "kind": e.kind,
                 "reason": e.reason}
                for e in exc.errors
            ],
        },
    }
    return Response(orjson.dumps(body), status_code=400, media_type="application/json")
