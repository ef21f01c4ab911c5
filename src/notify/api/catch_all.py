"""Last line of defence: any unexpected exception becomes a v2-shaped 500, logged by type only.

Starlette's own server-error handling re-raises to the server, which logs the exception message
and traceback; an exception raised while handling a send can carry a recipient in its message, so
we stop it here instead.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notify.log_config import get_logger

logger = get_logger(__name__)

_BODY = orjson.dumps({"status_code": 500, "errors": [{"error": "Exception", "message": "Internal server error"}]})


class CatchAllMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            logger.error("unhandled error", action="api.unhandled", error=type(exc).__name__, path=scope.get("path"))
            if started:
                return  # the response is under way; nothing sensible left to send
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": _BODY})
