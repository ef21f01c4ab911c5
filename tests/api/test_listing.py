"""GET /v2/notifications: filters and links.next paging."""

from __future__ import annotations

import httpx

from notify.db.models import KeyType
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.sending import EMAIL_PERSONALISATION, SMS_PERSONALISATION


async def _send(client: httpx.AsyncClient, account: Account, kind: str, to: str, reference: str | None) -> str:
    if kind == "sms":
        body = {"phone_number": to, "template_id": str(account.sms_template_id),
                "personalisation": SMS_PERSONALISATION}
    else:
        body = {"email_address": to, "template_id": str(account.email_template_id),
                "personalisation": EMAIL_PERSONALISATION}
    if reference:
        body["reference"] = reference
    response = await client.post(f"/v2/notifications/{kind}", json=body, headers=account.headers(KeyType.test))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_filters(client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit) -> None:
    pii_audit.track("+12025550143", "al.person@example.org")
    sms = await _send(client, account, "sms", "+12025550143", "ref-a")
    email = await _send(client, account, "email", "al.person@example.org", "ref-b")
    headers = account.headers()

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/v2/notifications{query}", headers=headers)
        assert response.status_code == 200, response.text
        return [n["id"] for n in response.json()["notifications"]]

    assert await ids("") == [email, sms]  # newest first
    assert await ids("?template_type=sms") == [sms]
    assert await ids("?template_type=email") == [email]
    assert await ids("?reference=ref-b") == [email]
    assert await ids("?reference=nothing") == []
    listed = (await client.get("/v2/notifications?template_type=email", headers=headers)).json()["notifications"]
    assert listed[0]["email_address"] == "al.person@example.org"
    assert listed[0]["subject"] == "Your case CASE-7731"


async def test_paging_follows_links_next_to_the_end(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    numbers = [f"+1202555{n:04d}" for n in range(300, 560)]  # 260: more than one page of 250
    pii_audit.track(*numbers)
    sent = {await _send(client, account, "sms", number, None) for number in numbers}
    seen: list[dict] = []
    url = "/v2/notifications"
    while True:
        page = (await client.get(url, headers=account.headers())).json()
        if not page["notifications"]:
            break
        seen.extend(page["notifications"])
        url = page["links"]["next"].removeprefix("http://127.0.0.1:6011")
    assert {n["id"] for n in seen} == sent
    assert len(seen) == len(sent)
    assert {n["phone_number"] for n in seen} == set(numbers)
