"""Template endpoints: read, versions, list, preview."""

from __future__ import annotations

import httpx

from notify.catalogue.templates import update_template
from notify.runtime import Runtime
from tests.support.accounts import Account


async def test_get_template_and_versions(client: httpx.AsyncClient, account: Account, runtime: Runtime) -> None:
    got = (await client.get(f"/v2/template/{account.sms_template_id}", headers=account.headers())).json()
    assert got["type"] == "sms"
    assert got["version"] == 1
    assert got["body"] == "Hi ((name)), your appointment is on ((day))."
    assert got["personalisation"] == {"name": {"required": True}, "day": {"required": True}}

    async with runtime.engine.begin() as conn:
        await update_template(conn, account.service_id, account.sms_template_id, content="Hello ((name)).")
    latest = (await client.get(f"/v2/template/{account.sms_template_id}", headers=account.headers())).json()
    assert (latest["version"], latest["body"]) == (2, "Hello ((name)).")
    old = (await client.get(f"/v2/template/{account.sms_template_id}/version/1", headers=account.headers())).json()
    assert (old["version"], old["body"]) == (1, "Hi ((name)), your appointment is on ((day)).")
    missing = await client.get(f"/v2/template/{account.sms_template_id}/version/9", headers=account.headers())
    assert missing.status_code == 404


async def test_list_templates_by_type(client: httpx.AsyncClient, account: Account) -> None:
    all_templates = (await client.get("/v2/templates", headers=account.headers())).json()["templates"]
    assert {t["id"] for t in all_templates} == {str(account.sms_template_id), str(account.email_template_id)}
    emails = (await client.get("/v2/templates?type=email", headers=account.headers())).json()["templates"]
    assert [t["subject"] for t in emails] == ["Your case ((case))"]
    bad = await client.get("/v2/templates?type=letter", headers=account.headers())
    assert bad.status_code == 400


async def test_preview(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(
        f"/v2/template/{account.email_template_id}/preview",
        json={"personalisation": {"name": "Jo", "case": "A-1"}},
        headers=account.headers(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "Your case A-1"
    assert response.json()["body"] == "Dear Jo,\n\nYour case A-1 is ready."
    missing = await client.post(
        f"/v2/template/{account.email_template_id}/preview", json={"personalisation": {}}, headers=account.headers()
    )
    assert missing.status_code == 400
    assert missing.json()["errors"] == [{"error": "BadRequestError", "message": "Missing personalisation: case, name"}]


async def test_other_services_templates_are_invisible(
    client: httpx.AsyncClient, account: Account, runtime: Runtime
) -> None:
    from tests.support.accounts import create_account

    other = await create_account(runtime)
    response = await client.get(f"/v2/template/{other.sms_template_id}", headers=account.headers())
    assert response.status_code == 404
