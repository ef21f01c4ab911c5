"""JSON bodies of the v2 API hold only storable text, checked once at the edge for every field.

JSON can spell text that nothing downstream can store: ``"\\ud800"`` decodes to a lone surrogate
(no UTF-8 for it) and ``"\\u0000"`` to NUL (PostgreSQL text refuses it).  Such a string used to
travel into the shared group-commit batch and fail every request in it, or end in a 500.  Rather
than guard each field of each schema, the route class below looks at the raw body of every JSON
request: only a body that contains such an escape at all (a fast bytes scan) is decoded and
walked, and the first unstorable string is refused with a v2 400 naming its field
(``personalisation.name``, ``rows[3][1]``), never quoting it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from notify.api.errors import ApiError
from notify.storable_text import first_unstorable

# The escapes that can decode to NUL or a surrogate; anything else in a JSON body is storable
# (raw control characters and invalid UTF-8 are already refused by the JSON parser).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type")
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def check_json_body(body: bytes) -> None:
    """Raise a v2 400 if a JSON body holds a string that cannot be stored; invalid JSON is left to FastAPI."""
    if not _SUSPECT_ESCAPE.search(body):
        return
    try:
        decoded = json.loads(body)
    except ValueError:
        return  # FastAPI answers invalid JSON itself, in its usual words
    found = first_unstorable(decoded)
    if found:
        field, problem = found
        raise ApiError(400, "ValidationError", f"{field} {problem}")


class CheckedJsonRoute(APIRoute):
    """An APIRoute that checks a JSON body's text before FastAPI parses it into the route's model.

    The body is read once: Starlette caches it on the request, which FastAPI's handler reuses.
    Non-JSON bodies (multipart uploads) are not touched, so they still stream.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            if _is_json(request):
                check_json_body(await request.body())
            return await handler(request)

        return checked
