"""Asynchronous exports: 202 with an id, status and progress, then the same CSV from storage."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from notify.config import Settings
from tests.support.accounts import Account
from tests.support.exports import wait_for_export
from tests.support.jobs import csv_bytes, sms_rows, upload, wait_until_all_final
from tests.support.pii_audit import PiiAudit


@pytest.mark.local_store  # presigned URLs exist only on S3; see the test below for S3
async def test_export_matches_the_streamed_report(
    client: httpx.AsyncClient, account: Account, pii_audit: PiiAudit
) -> None:
    rows = sms_rows(30, start=800)
    pii_audit.track(*(r[0] for r in rows))
    job = (await upload(client, account, csv_bytes(rows))).json()["data"]
    await wait_until_all_final(client, account, job["id"])

    requested = await client.post("/v2/reports", json={"days": 1}, headers=account.headers())
    assert requested.status_code == 202, requested.text
    export = requested.json()["data"]
    assert export["status"] in ("pending", "in progress", "ready")
    done = await wait_for_export(client, account, export["id"])
    assert done["status"] == "ready"
    assert done["row_count"] == 30
    assert done["url"] is None  # presigned URLs exist only on S3

    content = await client.get(f"/v2/reports/{export['id']}/content", headers=account.headers())
    assert content.status_code == 200
    streamed = await client.get("/v2/reports/notifications.csv?days=1", headers=account.headers())
    exported = list(csv.reader(io.StringIO(content.content.decode("utf-8-sig"))))
    live = list(csv.reader(io.StringIO(streamed.content.decode("utf-8-sig"))))
    assert exported == live
    assert sorted(r[0] for r in exported[1:]) == sorted(r[0] for r in rows)


@pytest.mark.s3_store
async def test_export_downloads_through_its_presigned_s3_url(
    client: httpx.AsyncClient, account: Account, settings: Settings, pii_audit: PiiAudit
) -> None:
    rows = [[number, f"Presigned reader {n}", day] for n, (number, _, day) in enumerate(sms_rows(25, start=860))]
    pii_audit.track(*(r[0] for r in rows))
    pii_audit.track_personalisation(*(r[1] for r in rows))
    job = (await upload(client, account, csv_bytes(rows))).json()["data"]
    await wait_until_all_final(client, account, job["id"])
    export = (await client.post("/v2/reports", json={"days": 1}, headers=account.headers())).json()["data"]
    done = await wait_for_export(client, account, export["id"])
    assert done["status"] == "ready" and done["row_count"] == 25
    assert settings.storage_endpoint is not None and done["url"].startswith(settings.storage_endpoint)

    # The URL is the whole credential: a plain client, without the API key, downloads the export.
    # (moto's server does not check signatures, so a tampered URL cannot be tested here.)
    async with httpx.AsyncClient() as anyone:
        downloaded = await anyone.get(done["url"])
    assert downloaded.status_code == 200, downloaded.text
    through_api = await client.get(f"/v2/reports/{export['id']}/content", headers=account.headers())
    assert downloaded.content == through_api.content
    exported = list(csv.reader(io.StringIO(downloaded.content.decode("utf-8-sig"))))
    assert sorted(r[0] for r in exported[1:]) == sorted(r[0] for r in rows)


async def test_export_requests_are_checked(client: httpx.AsyncClient, account: Account) -> None:
    bad = await client.post("/v2/reports", json={"days": 2}, headers=account.headers())
    assert bad.status_code == 400
    unknown_field = await client.post("/v2/reports", json={"colour": "red"}, headers=account.headers())
    assert unknown_field.status_code == 400
    missing = await client.get(f"/v2/reports/{account.service_id}", headers=account.headers())
    assert missing.status_code == 404
    not_uuid = await client.get("/v2/reports/abc/content", headers=account.headers())
    assert not_uuid.status_code == 400
    no_job = await client.post("/v2/reports", json={"job_id": str(account.service_id)}, headers=account.headers())
    assert no_job.status_code == 400
