"""Upload caps and cell rules through the API: each refusal is a v2 400 that says what is wrong."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from notify.catalogue import templates
from notify.db.models import TemplateType
from notify.runtime import Runtime
from tests.support.accounts import Account
from tests.support.jobs import upload
from tests.support.pii_audit import PiiAudit


def _messages(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    return [error["message"] for error in response.json()["errors"]]


async def _stored_uploads(runtime: Runtime, account: Account) -> list[str]:
    return [info.key async for info in runtime.store.list(f"uploads/{account.service_id}")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("file", "Row 3, column 'name': Contains a NUL character"),
        # JSON bodies are refused at the edge, naming the field, before any row is read.
        ("csv", "csv must not contain NUL characters"),
        ("rows", "rows[2][1] must not contain NUL characters"),
    ],
)
async def test_nul_in_a_bulk_cell_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit, source: str, expected: str
) -> None:
    pii_audit.track("+12025550161", "+12025550162")
    pii_audit.track_personalisation("Augusta", "Bartholomew")
    rows = [["phone number", "name", "day"], ["2025550161", "Augusta", "Monday"], ["2025550162", "Bar\x00tholomew", "Monday"]]
    text = "".join(",".join(row) + "\n" for row in rows)
    if source == "file":
        response = await upload(client, account, text.encode())
    else:
        body: dict[str, Any] = {"name": "nul", "template_id": str(account.sms_template_id)}
        body[source] = text if source == "csv" else rows
        response = await client.post("/v2/notifications/bulk", json=body, headers=account.headers())
    assert response.status_code == 400
    assert expected in _messages(response)
    if source == "file":
        assert response.json()["file_errors"]["counts"] == {"nul_character": 1}
    assert await _stored_uploads(runtime, account) == []


async def test_too_many_columns_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    pii_audit.track("+12025550163")
    header = "phone number,name,day" + ",x" * 499_997
    response = await upload(client, account, f"{header}\n2025550163,Ann,Monday\n".encode())
    assert _messages(response)[0].startswith("The file has 500,000 columns; the most is 1,000.")
    assert await _stored_uploads(runtime, account) == []


async def test_a_cell_over_the_size_limit_is_named_as_such(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    pii_audit.track("+12025550164")
    data = f"phone number,name,day\n2025550164,{'n' * 150_000},Monday\n".encode()
    message = _messages(await upload(client, account, data))[0]
    assert message.startswith("Row 2, column 'name': the cell is longer than 10,000 characters.")


async def test_an_email_row_emptied_by_its_conditional_is_refused(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    pii_audit.track("augusta.example@agency.example.gov", "bart.example@agency.example.gov")
    async with runtime.engine.begin() as conn:
        template = await templates.create_template(
            conn, account.service_id, name="Maybe", template_type=TemplateType.email,
            subject="Your results", content="((ready??Your results are ready.))",
        )
    data = b"email address,ready\naugusta.example@agency.example.gov,yes\nbart.example@agency.example.gov,no\n"
    response = await upload(client, account, data, template_id=str(template.id))
    assert "Row 3: Your message is empty." in _messages(response)
    assert await _stored_uploads(runtime, account) == []
