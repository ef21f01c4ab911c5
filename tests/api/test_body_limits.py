"""Request bodies are capped per endpoint while they stream, before parsing, with a v2 413.

Used to be: no JSON endpoint had a limit (a 200 MB body was parsed and stored), and a multipart
upload with a declared 100 MB Content-Length was read to the end before being refused.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx

from notify.app import create_app
from notify.config import Settings
from tests.support.accounts import Account, create_account
from tests.support.pii_audit import PiiAudit

NUMBER = "+12025550191"
CHUNK = 64 * 1024


def _refusal(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {
        "status_code": 413,
        "errors": [{"error": "RequestTooLarge",
                    "message": f"The request body is larger than {limit} bytes, the limit for this endpoint"}],
    }


def _sms_body(account: Account, padding: int) -> bytes:
    return json.dumps({"phone_number": NUMBER, "template_id": str(account.sms_template_id),
                       "personalisation": {"name": "Nakamura", "day": "Saturday", "pad": "p" * padding}}).encode()


async def test_a_json_body_over_the_limit_is_refused(
    client: httpx.AsyncClient, account: Account, settings: Settings, pii_audit: PiiAudit
) -> None:
    pii_audit.track(NUMBER)
    body = _sms_body(account, settings.max_json_body_bytes)
    response = await client.post(
        "/v2/notifications/sms", content=body, headers={**account.headers(), "content-type": "application/json"}
    )
    _refusal(response, settings.max_json_body_bytes)


async def test_a_chunked_body_without_content_length_is_cut_off_at_the_limit(
    client: httpx.AsyncClient, account: Account, settings: Settings, pii_audit: PiiAudit
) -> None:
    pii_audit.track(NUMBER)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"phone_number": "' + NUMBER.encode() + b'", "personalisation": {"pad": "'
        while sent < 50 * settings.max_json_body_bytes:
            sent += CHUNK
            yield b"p" * CHUNK

    response = await client.post(
        "/v2/notifications/sms", content=endless(), headers={**account.headers(), "content-type": "application/json"}
    )
    _refusal(response, settings.max_json_body_bytes)
    assert sent <= settings.max_json_body_bytes + 2 * CHUNK  # read no further than the limit


async def test_the_bulk_endpoint_has_its_own_larger_limit(settings: Settings, pii_audit: PiiAudit) -> None:
    pii_audit.track(NUMBER)
    pii_audit.track_personalisation("Nakamura", "Saturday")
    small = settings.model_copy(update={"max_json_body_bytes": 16 * 1024, "max_bulk_body_bytes": 256 * 1024})
    app = create_app(small)
    async with app.router.lifespan_context(app):
        account = await create_account(app.state.runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as client:

            async def bulk(rows: int) -> httpx.Response:
                return await client.post(
                    "/v2/notifications/bulk",
                    json={"name": "people.csv", "template_id": str(account.sms_template_id),
                          "rows": [["phone number", "name", "day"]] + [[NUMBER, "Nakamura", "Saturday"]] * rows},
                    headers=account.headers(),
                )

            accepted = await bulk(2500)  # about 100 KB: over the JSON limit, under the bulk one
            assert accepted.status_code == 201, accepted.text
            _refusal(await bulk(10_000), 256 * 1024)
            single = await client.post(
                "/v2/notifications/sms", content=_sms_body(account, 20 * 1024),
                headers={**account.headers(), "content-type": "application/json"},
            )
            _refusal(single, 16 * 1024)


def _headers_only(base_url: str, path: str, headers: dict[str, str]) -> bytes:
    """Send a request's headers and no body at all; return whatever the server answers within 10 s."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        answer = b""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            if time.monotonic() > deadline:
                break
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            if not piece:
                break
            answer += piece
        return answer


async def test_a_declared_oversize_upload_is_refused_before_its_body_is_sent(
    live_server: str, account: Account, settings: Settings
) -> None:
    declared = settings.max_upload_bytes + 2 * 1024 * 1024
    answer = await asyncio.to_thread(
        _headers_only, live_server, f"/v2/jobs?template_id={account.sms_template_id}",
        {**account.headers(), "Content-Type": "multipart/form-data; boundary=xyz", "Content-Length": str(declared)},
    )
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"error":"RequestTooLarge"' in answer


async def test_a_declared_oversize_json_body_is_refused_before_it_is_sent(
    live_server: str, account: Account, settings: Settings
) -> None:
    answer = await asyncio.to_thread(
        _headers_only, live_server, "/v2/notifications/sms",
        {**account.headers(), "Content-Type": "application/json", "Content-Length": str(200 * 1024 * 1024)},
    )
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
