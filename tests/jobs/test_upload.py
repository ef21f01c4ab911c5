"""Uploading spreadsheets: POST /v2/jobs (multipart) and POST /v2/notifications/bulk (GC Notify)."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from notify.db.models import KeyType
from notify.runtime import Runtime
from notify.sending.providers.simulated import SimulatedProvider
from tests.support.accounts import TEAM_EMAIL, TEAM_PHONE, Account, create_account
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_for_job, wait_until_all_final
from tests.support.pii_audit import PiiAudit


async def _nothing_stored(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        counts = (
            await conn.execute(
                text("SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM notifications), "
                     "(SELECT count(*) FROM procrastinate_jobs WHERE task_name IN ('start_job', 'deliver_rows')), (SELECT coalesce(sum(count), 0) FROM usage_counters)")
            )
        ).one()
    assert tuple(counts) == (0, 0, 0, 0)
    assert [o async for o in runtime.store.list("uploads/")] == []


async def test_upload_sends_every_row_and_reads_rows_back(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(7)
    pii_audit.track(*(r[0] for r in rows))
    pii_audit.track_personalisation(*(r[1] for r in rows))
    response = await upload(client, account, csv_bytes(rows, bom=True), filename="march.csv")
    assert response.status_code == 201, response.text
    job = response.json()["data"]
    assert (job["name"], job["row_count"], job["template_type"]) == ("march.csv", 7, "sms")
    assert job["status"] in ("pending", "in progress", "finished")

    await wait_for_job(client, account, job["id"])
    done = await wait_until_all_final(client, account, job["id"])
    assert done["statistics"] == [{"status": "delivered", "count": 7}]
    assert done["progress"] == {"total": 7, "processed": 7, "finished": 7, "failed": 0, "percent_processed": 100.0}
    assert sorted(m.to for m in provider.sent) == sorted(f"+1202555{200 + n:04d}" for n in range(7))
    assert {m.body for m in provider.sent} == {f"Hi Person {n}, your appointment is on Monday." for n in range(7)}

    page = (await client.get(f"/v2/jobs/{job['id']}/notifications", headers=account.headers())).json()
    assert [(n["row_number"], n["phone_number"]) for n in page["notifications"]] == [
        (n, f"+1202555{200 + n:04d}") for n in range(7)
    ]
    assert page["notifications"][3]["body"] == "Hi Person 3, your appointment is on Monday."
    assert all(n["job_id"] == job["id"] for n in page["notifications"])


async def test_uploaded_notifications_are_listed_only_with_include_jobs(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(2)
    pii_audit.track(*(r[0] for r in rows))
    job = (await upload(client, account, csv_bytes(rows))).json()["data"]
    await wait_for_job(client, account, job["id"])
    default = (await client.get("/v2/notifications", headers=account.headers())).json()["notifications"]
    assert default == []
    included = (await client.get("/v2/notifications?include_jobs=true", headers=account.headers())).json()
    assert sorted(n["phone_number"] for n in included["notifications"]) == ["+12025550200", "+12025550201"]


async def test_bulk_api_with_rows_and_with_csv(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, pii_audit: PiiAudit
) -> None:
    pii_audit.track("ann.example@agency.example.gov", "bob.example@agency.example.gov")
    by_rows = await client.post(
        "/v2/notifications/bulk",
        json={"name": "by rows", "template_id": str(account.email_template_id),
              "rows": [["email address", "name", "case"], ["ann.example@agency.example.gov", "Ann", "1"],
                       ["bob.example@agency.example.gov", "Bob", "2"]]},
        headers=account.headers(),
    )
    assert by_rows.status_code == 201, by_rows.text
    by_csv = await client.post(
        "/v2/notifications/bulk",
        json={"name": "by csv", "template_id": str(account.email_template_id),
              "csv": "Email Address,Name,Case\nann.example@agency.example.gov,Ann,3\n"},
        headers=account.headers(),
    )
    assert by_csv.status_code == 201, by_csv.text
    for job in (by_rows.json()["data"], by_csv.json()["data"]):
        await wait_for_job(client, account, job["id"])
    assert sorted(m.subject for m in provider.sent) == ["Your case 1", "Your case 2", "Your case 3"]
    neither = await client.post(
        "/v2/notifications/bulk", json={"name": "x", "template_id": str(account.email_template_id)},
        headers=account.headers(),
    )
    assert neither.status_code == 400
    assert "either rows or csv" in neither.json()["errors"][0]["message"]


async def test_bad_rows_are_all_reported_and_nothing_is_stored(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(3) + [["not a number", "X", "Monday"], ["202555", "Y", "Monday"], ["(202) 555-0199", "", "Monday"]]
    pii_audit.track("(202) 555-0200", "(202) 555-0201", "(202) 555-0202", "(202) 555-0199")
    response = await upload(client, account, csv_bytes(rows))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status_code"] == 400
    assert body["errors"][0]["error"] == "ValidationError"
    problems = {(r["row"], r["column"]) for r in body["file_errors"]["rows"]}
    assert {(5, "phone number"), (6, "phone number"), (7, "name")} <= problems
    assert body["file_errors"]["total"] == len(body["file_errors"]["rows"]) == 3
    assert any("Row 5, column 'phone number'" in e["message"] for e in body["errors"])
    await _nothing_stored(runtime)


async def test_a_file_that_is_not_utf8_gets_advice(
    client: httpx.AsyncClient, account: Account, runtime: Runtime
) -> None:
    data = "phone number,name,day\r\n2025550143,Ren\xe9e,Monday\r\n".encode("cp1252")
    response = await upload(client, account, data)
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "UTF-8" in message
    await _nothing_stored(runtime)


async def test_template_id_must_come_before_the_file(
    client: httpx.AsyncClient, account: Account, runtime: Runtime
) -> None:
    boundary = "xyz"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n"
        "phone number,name,day\r\n2025550143,A,B\r\n"
        f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"template_id\"\r\n\r\n{account.sms_template_id}"
        f"\r\n--{boundary}--\r\n"
    ).encode()
    response = await client.post(
        "/v2/jobs", content=body,
        headers={**account.headers(), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400
    assert "before the file part" in response.json()["errors"][0]["message"]
    as_query = await client.post(
        f"/v2/jobs?template_id={account.sms_template_id}", content=body,
        headers={**account.headers(), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert as_query.status_code == 201, as_query.text


async def test_not_multipart_is_a_clear_400(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post("/v2/jobs", json={"file": "x"}, headers=account.headers())
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["errors"][0]["message"]


async def test_a_file_over_the_daily_allowance_is_refused_up_front(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    small = await create_account(runtime, message_limit=5)
    rows = sms_rows(6)
    pii_audit.track(*(r[0] for r in rows))
    response = await upload(client, small, csv_bytes(rows))
    assert response.status_code == 429
    assert response.json()["errors"][0] == {
        "error": "TooManyRequestsError",
        "message": "This file has 6 rows but the service can only send 5 more messages today",
    }
    await _nothing_stored(runtime)
    assert (await upload(client, small, csv_bytes(rows[:5]))).status_code == 201


async def test_test_key_upload_reaches_no_provider(
    client: httpx.AsyncClient, account: Account, provider: SimulatedProvider, pii_audit: PiiAudit
) -> None:
    rows = [["+14254147755", "A", "x"], ["+14254147222", "B", "y"]]
    pii_audit.track("+14254147755", "+14254147222")
    job = (await upload(client, account, csv_bytes(rows), key=KeyType.test)).json()["data"]
    done = await wait_until_all_final(client, account, job["id"])
    assert sorted((s["status"], s["count"]) for s in done["statistics"]) == [
        ("delivered", 1), ("permanent-failure", 1)
    ]
    assert list(provider.sent) == []


async def test_trial_mode_only_sends_to_the_team(
    client: httpx.AsyncClient, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    trial = await create_account(runtime, restricted=True)
    pii_audit.track("+12025550143", TEAM_PHONE, TEAM_EMAIL)
    refused = await upload(client, trial, csv_bytes([["(202) 555-0100", "Team", "x"], ["2025550143", "Stranger", "y"]]))
    assert refused.status_code == 400
    assert "trial mode" in refused.json()["errors"][0]["message"]
    await _nothing_stored(runtime)
    assert (await upload(client, trial, csv_bytes([["(202) 555-0100", "Team", "x"]]))).status_code == 201


async def test_jobs_list_newest_first_with_paging_links(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    pii_audit.track("(202) 555-0200")
    ids = [(await upload(client, account, csv_bytes(sms_rows(1)), filename=f"f{n}.csv")).json()["data"]["id"]
           for n in range(3)]
    listed = (await client.get("/v2/jobs", headers=account.headers())).json()
    assert [j["id"] for j in listed["jobs"]] == ids[::-1]
    after = (await client.get(f"/v2/jobs?older_than={ids[1]}", headers=account.headers())).json()
    assert [j["id"] for j in after["jobs"]] == [ids[0]]
    missing = await client.get(f"/v2/jobs/{account.service_id}", headers=account.headers())
    assert missing.status_code == 404
