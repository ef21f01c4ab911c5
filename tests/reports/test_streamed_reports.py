"""Streamed CSV reports: every message with its recipient, fresh to the second, safe to open in Excel."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx

from notify.db.models import KeyType
from notify.reports.query import ReportScope
from notify.reports.stream import open_report
from notify.runtime import Runtime
from tests.support.accounts import Account
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_until_all_final
from tests.support.pii_audit import PiiAudit
from tests.support.polling import wait_for_status
from tests.support.sending import EMAIL_PERSONALISATION, SMS_PERSONALISATION

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-0[45]:00$")  # America/New_York, unambiguous


def _parse(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def _send_sms(client: httpx.AsyncClient, account: Account, number: str, reference: str) -> str:
    response = await client.post(
        "/v2/notifications/sms",
        json={"phone_number": number, "template_id": str(account.sms_template_id),
              "personalisation": SMS_PERSONALISATION, "reference": reference},
        headers=account.headers(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_report_lists_api_and_spreadsheet_sends_with_recipients(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    numbers = ["+12025550301", "+14254147222"]
    pii_audit.track(*numbers, "(202) 555-0311", "202.555.0312")
    ids = [await _send_sms(client, account, n, f"ref-{i}") for i, n in enumerate(numbers)]
    await wait_for_status(client, account, ids[1], "permanent-failure")
    job = (await upload(client, account, csv_bytes(
        [["(202) 555-0311", "=HYPERLINK(\"x\")", "Mon, Tue"], ["202.555.0312", "Zoë", "-1"]]
    ), filename="march.csv")).json()["data"]
    await wait_until_all_final(client, account, job["id"])

    rows = _parse(await client.get("/v2/reports/notifications.csv?days=1", headers=account.headers()))
    assert len(rows) == 4
    assert set(rows[0]) == {"Recipient", "Template", "Sent By", "Carrier", "Status", "Time", "Batch File",
                            "Carrier Response", "Row Number", "Client Reference"}
    by_recipient = {r["Recipient"]: r for r in rows}
    # Recipients that start with "+" are neutralised so a spreadsheet never treats them as formulas.
    api_row = by_recipient["'+12025550301"]
    assert (api_row["Template"], api_row["Sent By"], api_row["Status"], api_row["Client Reference"]) == (
        "Reminder", "normal key", "Delivered", "ref-0"
    )
    assert by_recipient["'+14254147222"]["Status"] == "Phone number doesn't exist"
    upload_row = by_recipient["(202) 555-0311"]
    assert (upload_row["Batch File"], upload_row["Row Number"], upload_row["Sent By"]) == (
        "march.csv", "1", "normal key"
    )
    assert by_recipient["202.555.0312"]["Row Number"] == "2"
    assert all(TIME.match(r["Time"]) for r in rows), [r["Time"] for r in rows]


async def test_job_report_keeps_the_original_columns_and_neutralises_formulas(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    pii_audit.track("(202) 555-0321", "(202) 555-0322")
    data = csv_bytes([["(202) 555-0321", "=1+1", "Mon, Tue"], ["(202) 555-0322", "Zoë", "@home"]],
                     header=["Phone Number", "name", "day"])
    job = (await upload(client, account, data)).json()["data"]
    await wait_until_all_final(client, account, job["id"])
    rows = _parse(await client.get(f"/v2/jobs/{job['id']}/report.csv", headers=account.headers()))
    assert [(r["Phone Number"], r["name"], r["day"], r["Row Number"]) for r in rows] == [
        ("(202) 555-0321", "'=1+1", "Mon, Tue", "1"),
        ("(202) 555-0322", "Zoë", "'@home", "2"),
    ]


async def test_filters(client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit) -> None:
    pii_audit.track("+12025550331", "+14254147111", "rep.person@example.org")
    await _send_sms(client, account, "+12025550331", "a")
    failed = await _send_sms(client, account, "+14254147111", "b")
    email = await client.post(
        "/v2/notifications/email",
        json={"email_address": "rep.person@example.org", "template_id": str(account.email_template_id),
              "personalisation": EMAIL_PERSONALISATION},
        headers=account.headers(KeyType.test),
    )
    await wait_for_status(client, account, failed, "temporary-failure")
    await wait_for_status(client, account, email.json()["id"], "delivered")
    only_failed = _parse(await client.get("/v2/reports/notifications.csv?status=failed", headers=account.headers()))
    assert [r["Recipient"] for r in only_failed] == ["'+14254147111"]
    emails = _parse(await client.get("/v2/reports/notifications.csv?template_type=email", headers=account.headers()))
    assert [r["Email Address"] for r in emails] == ["rep.person@example.org"]


async def test_rows_whose_file_is_gone_are_still_reported_with_a_marker(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    pii_audit.track("+12025550341", "(202) 555-0342")
    await _send_sms(client, account, "+12025550341", "gone")
    job = (await upload(client, account, csv_bytes([["(202) 555-0342", "A", "B"]]))).json()["data"]
    await wait_until_all_final(client, account, job["id"])
    async for info in runtime.store.list("uploads/"):
        await runtime.store.delete(info.key)
    rows = _parse(await client.get("/v2/reports/notifications.csv?days=1", headers=account.headers()))
    assert len(rows) == 2
    assert {r["Recipient"] for r in rows} == {"[not available: the file has expired or is missing]"}
    assert {r["Client Reference"] for r in rows} == {"gone", ""}


async def test_bad_report_requests(client: httpx.AsyncClient, account: Account) -> None:
    for url, status in [
        ("/v2/reports/notifications.csv?days=2", 400),
        ("/v2/reports/notifications.csv?status=elephant", 400),
        ("/v2/reports/notifications.csv?template_type=letter", 400),
        ("/v2/jobs/nope/report.csv", 400),
        (f"/v2/jobs/{account.service_id}/report.csv", 404),
    ]:
        response = await client.get(url, headers=account.headers())
        assert response.status_code == status, (url, response.text)
        assert response.json()["errors"]
    empty = _parse(await client.get("/v2/reports/notifications.csv", headers=account.headers()))
    assert empty == []


async def test_job_report_rows_come_in_file_order_with_cells_as_uploaded(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    numbers = [f"(202) 555-{n:04d}" for n in range(370, 382)] + ["+14254147222", "+14254147111"]
    pii_audit.track(*numbers)
    rows = [[number, f"Name {n}", "Mon", "=x"] for n, number in enumerate(numbers)]
    rows[1][1] = "Smith, Jo"
    rows[2][1] = "two\nlines"
    header = ["phone number", "name", "day", "note", ""]  # the empty header cell is dropped
    data = csv_bytes(rows[:3], header=header) + b"\r\n,,,\r\n" + csv_bytes(rows[3:], header=header).split(b"\r\n", 1)[1]
    data = data.replace(b"(202) 555-0374,Name 4,Mon,=x", b"(202) 555-0374,Name 4,Mon")  # a short row
    job = (await upload(client, account, data, filename="mixed.csv")).json()["data"]
    await wait_until_all_final(client, account, job["id"])

    report = _parse(await client.get(f"/v2/jobs/{job['id']}/report.csv", headers=account.headers()))
    assert [r["Row Number"] for r in report] == [str(n) for n in range(1, len(numbers) + 1)]
    assert [r["Phone Number"] for r in report] == [f"'{n}" if n.startswith("+") else n for n in numbers]
    assert [r["name"] for r in report][:3] == ["Name 0", "Smith, Jo", "two\nlines"]
    assert [r["note"] for r in report][3:6] == ["'=x", "", "'=x"]
    assert {r["Status"] for r in report} == {
        "Delivered", "Phone number doesn't exist", "Phone not accepting messages right now"
    }
    assert all(r["Batch File"] == "mixed.csv" and r["Sent By"] == "normal key" for r in report)

    failed = _parse(await client.get("/v2/reports/notifications.csv?status=failed", headers=account.headers()))
    assert [(r["Recipient"], r["Row Number"]) for r in failed] == [("'+14254147222", "13"), ("'+14254147111", "14")]


async def test_a_report_abandoned_midway_leaves_the_service_healthy(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(40, start=900)
    pii_audit.track(*(r[0] for r in rows), "+12025550391")
    await _send_sms(client, account, "+12025550391", "first")
    job = (await upload(client, account, csv_bytes(rows))).json()["data"]
    await wait_until_all_final(client, account, job["id"])
    scope = ReportScope(service_id=account.service_id, since=datetime.now(UTC) - timedelta(days=1))

    for stop_after in (1, 2):  # after the header; after the first rows
        report = await open_report(runtime.engine, runtime.store, scope, filename="x.csv")
        async for _ in report.chunks:
            stop_after -= 1
            if not stop_after:
                break
        await report.chunks.aclose()  # type: ignore[attr-defined]

    complete = _parse(await client.get("/v2/reports/notifications.csv?days=1", headers=account.headers()))
    assert len(complete) == 41
