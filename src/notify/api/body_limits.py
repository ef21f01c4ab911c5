"""Request bodies have a size limit per endpoint, enforced while they stream, before any parsing.

Without one, a 200 MB JSON body was read, parsed (2.7 GB at peak) and stored, and the event loop
stalled for every other request meanwhile.  This middleware refuses, with a v2 413:

* at once, without reading a byte of the body, a request whose ``Content-Length`` is over the
  limit (a multipart upload no longer streams 100 MB before being told no);
* as soon as the bytes received pass the limit, a body sent without ``Content-Length``
  (chunked): whatever the application was doing with it is cut off and its answer replaced.

JSON endpoints get ``NOTIFY_MAX_JSON_BODY_BYTES``; the bulk endpoint and the multipart upload,
which carry whole files, get their own limits (:func:`route_body_limits`).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notify.api.errors import error_response
from notify.config import Settings

# Room for the multipart framing and the form fields that come before the file part.
UPLOAD_FORM_ALLOWANCE = 1024 * 1024


def route_body_limits(settings: Settings) -> dict[tuple[str, str], int]:
    """The endpoints whose bodies may be larger than a JSON request's, and their limits."""
    return {
        ("POST", "/v2/jobs"): settings.max_upload_bytes + UPLOAD_FORM_ALLOWANCE,
        ("POST", "/v2/notifications/bulk"): settings.max_bulk_body_bytes,
    }


class _BodyTooLarge(Exception):
    """Raised into the application from ``receive``; never leaves this module."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, default: int, routes: Mapping[tuple[str, str], int]) -> None:
        self.app = app
        self._default = default
        self._routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._routes.get((scope["method"], scope["path"].rstrip("/") or "/"), self._default)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return

        received = 0
        cut_off = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, cut_off
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut_off = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if cut_off and not started:
                return  # after the cut-off, whatever the application answers, the answer is 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not cut_off:
                raise
        if cut_off and not started:
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(
            413,
            [{"error": "RequestTooLarge",
              "message": f"The request body is larger than {limit} bytes, the limit for this endpoint"}],
            # The rest of the body is never read, so the connection cannot be reused.
            headers={"connection": "close"},
        )
        await response(scope, receive, send)
