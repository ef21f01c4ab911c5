"""Bad input gets a 4xx in Notify's v2 error shape, never a 500, and nothing is stored."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from notify.catalogue.templates import update_template
from notify.runtime import Runtime
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.sending import EMAIL_PERSONALISATION, SMS_PERSONALISATION


def _error(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    assert len(body["errors"]) >= 1
    return body["errors"][0]


async def _nothing_stored(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM notifications"))).scalar() == 0
        assert (await conn.execute(text("SELECT count(*) FROM jobs"))).scalar() == 0
    assert [o async for o in runtime.store.list("uploads/")] == []


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        ({"template_id": "T"}, "ValidationError", "phone_number is a required property"),
        ({"phone_number": "2025550143"}, "ValidationError", "template_id is a required property"),
        ({"phone_number": "2025550143", "template_id": "not-a-uuid"}, "ValidationError",
         "template_id is not a valid UUID"),
        ({"phone_number": 2025550143, "template_id": "T"}, "ValidationError", "phone_number should be a string"),
        ({"phone_number": "2025550143", "template_id": "T", "colour": "red"}, "ValidationError",
         "Additional properties are not allowed (colour was unexpected)"),
        ({"phone_number": "2025550143", "template_id": "T", "personalisation": "x"}, "ValidationError",
         "personalisation should be an object"),
        ({"phone_number": "not a number", "template_id": "T", "personalisation": SMS_PERSONALISATION},
         "ValidationError", "phone_number Must not contain letters or symbols"),
        ({"phone_number": "202555", "template_id": "T", "personalisation": SMS_PERSONALISATION},
         "ValidationError", "phone_number Not enough digits"),
        ({"phone_number": "+44 7911 123456", "template_id": "T", "personalisation": SMS_PERSONALISATION},
         "ValidationError", "phone_number Not a US phone number. International messaging is not enabled for this service"),
        ({"phone_number": "2025550143", "template_id": "T"}, "BadRequestError", "Missing personalisation: name, day"),
        ({"phone_number": "2025550143", "template_id": "T", "personalisation": {"name": "x" * 1000, "day": "1"}},
         "BadRequestError", "Text messages cannot be longer than 918 characters. Your message is 1030 characters long."),
        ({"phone_number": "2025550143", "template_id": str(uuid.UUID(int=1)), "personalisation": SMS_PERSONALISATION},
         "BadRequestError", "Template not found"),
        ({"phone_number": "2025550143", "template_id": "E", "personalisation": SMS_PERSONALISATION},
         "BadRequestError", "email template is not suitable for sms notification"),
        ({"phone_number": "2025550143", "template_id": "T", "personalisation": SMS_PERSONALISATION,
          "sms_sender_id": str(uuid.UUID(int=2))}, "BadRequestError",
         f"sms_sender_id {uuid.UUID(int=2)} does not exist in database for service id"),
        ({"phone_number": "2025550143", "template_id": "T", "personalisation": SMS_PERSONALISATION,
          "scheduled_for": "2030-01-01 10:00"}, "BadRequestError",
         "Cannot schedule notifications (this feature is invite-only)"),
    ],
)
async def test_bad_sms_requests(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit,
    payload: dict[str, Any], error: str, message: str,
) -> None:
    substitutes = {"T": str(account.sms_template_id), "E": str(account.email_template_id)}
    body = {k: substitutes.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    if isinstance(body.get("phone_number"), str):
        pii_audit.track(body["phone_number"])
    got = _error(await client.post("/v2/notifications/sms", json=body, headers=account.headers()), 400)
    assert got == {"error": error, "message": message}
    await _nothing_stored(runtime)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "Invalid JSON supplied in POST data"),
        (b"[1, 2]", "Request body must be a JSON object"),
        (b"", "Invalid JSON supplied in POST data"),
    ],
)
async def test_malformed_bodies(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, content: bytes, message: str
) -> None:
    response = await client.post(
        "/v2/notifications/sms", content=content, headers={**account.headers(), "Content-Type": "application/json"}
    )
    errors = response.json()["errors"]
    assert response.status_code == 400, response.text
    assert any(e["message"] == message for e in errors), errors
    await _nothing_stored(runtime)


async def test_bad_email_address(client: httpx.AsyncClient, account: Account, runtime: Runtime) -> None:
    got = _error(
        await client.post(
            "/v2/notifications/email",
            json={"email_address": "not-an-email", "template_id": str(account.email_template_id),
                  "personalisation": EMAIL_PERSONALISATION},
            headers=account.headers(),
        ),
        400,
    )
    assert got == {"error": "ValidationError", "message": "email_address Not a valid email address"}
    await _nothing_stored(runtime)


async def test_archived_template_is_refused(client: httpx.AsyncClient, account: Account, runtime: Runtime) -> None:
    async with runtime.engine.begin() as conn:
        await update_template(conn, account.service_id, account.sms_template_id, archived=True)
    got = _error(
        await client.post(
            "/v2/notifications/sms",
            json={"phone_number": "2025550143", "template_id": str(account.sms_template_id),
                  "personalisation": SMS_PERSONALISATION},
            headers=account.headers(),
        ),
        400,
    )
    assert got == {"error": "BadRequestError", "message": f"Template {account.sms_template_id} has been deleted"}


async def test_unknown_notification_and_bad_ids(client: httpx.AsyncClient, account: Account) -> None:
    got = _error(await client.get(f"/v2/notifications/{uuid.uuid4()}", headers=account.headers()), 404)
    assert got == {"error": "NoResultFound", "message": "No result found"}
    got = _error(await client.get("/v2/notifications/123", headers=account.headers()), 400)
    assert got == {"error": "ValidationError", "message": "notification_id is not a valid UUID"}
    got = _error(await client.get("/v2/notifications?status=elephant", headers=account.headers()), 400)
    assert got["error"] == "ValidationError" and got["message"].startswith("status elephant is not one of")
    got = _error(await client.get("/v2/notifications?older_than=abc", headers=account.headers()), 400)
    assert got == {"error": "ValidationError", "message": "older_than is not a valid UUID"}
    got = _error(await client.get("/v2/nowhere", headers=account.headers()), 404)
    assert got["error"] == "ResourceNotFound"
    got = _error(await client.delete("/v2/notifications/sms", headers=account.headers()), 405)


async def test_unexpected_errors_are_500_in_v2_shape_and_never_log_their_message(
    app: Any, pii_audit: PiiAudit
) -> None:
    """A bug that raises with a recipient in its message must not put it in the logs."""
    pii_audit.track("+12025550166")

    async def broken() -> None:
        raise ValueError("could not handle +12025550166")

    app.add_api_route("/v2/broken", broken)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://t") as client:
        response = await client.get("/v2/broken")
    assert response.status_code == 500
    assert response.json() == {"status_code": 500, "errors": [{"error": "Exception", "message": "Internal server error"}]}


async def test_nul_characters_are_refused_not_500(client: httpx.AsyncClient, account: Account, runtime: Runtime) -> None:
    """Found by the schemathesis fuzz: PostgreSQL cannot store NUL, so it must be a clear 400."""
    sent = await client.post(
        "/v2/notifications/sms",
        json={"phone_number": "2025550143", "template_id": str(account.sms_template_id),
              "personalisation": SMS_PERSONALISATION, "reference": "a\x00b"},
        headers=account.headers(),
    )
    assert _error(sent, 400)["message"] == "reference must not contain NUL characters"
    listed = await client.get("/v2/notifications", params={"reference": "a\x00"}, headers=account.headers())
    assert _error(listed, 400)["message"] == "reference must not contain NUL characters"
    upload = await client.post(
        "/v2/jobs", data={"template_id": str(account.sms_template_id)},
        files={"file": ("a\x00.csv", b"phone number,na\x00me,day\r\n2025550143,A,B\r\n", "text/csv")},
        headers=account.headers(),
    )
    assert upload.status_code == 400, upload.text
    await _nothing_stored(runtime)
