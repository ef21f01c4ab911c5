"""Helpers for spreadsheet-job tests: build CSVs, upload them, wait for jobs to end."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.support.accounts import Account


def csv_bytes(rows: list[list[str]], *, header: list[str] | None = None, bom: bool = False, crlf: bool = True) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header or ["phone number", "name", "day"])
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def sms_rows(count: int, start: int = 200) -> list[list[str]]:
    return [[f"(202) 555-{start + n:04d}", f"Person {n}", "Monday"] for n in range(count)]


async def upload(
    client: httpx.AsyncClient, account: Account, data: bytes, *, template_id: str | None = None,
    key: Any = None, filename: str = "people.csv", fields: dict[str, str] | None = None,
) -> httpx.Response:
    form = {"template_id": template_id or str(account.sms_template_id), **(fields or {})}
    headers = account.headers(key) if key is not None else account.headers()
    return await client.post("/v2/jobs", data=form, files={"file": (filename, data, "text/csv")}, headers=headers)


async def wait_for_job(
    client: httpx.AsyncClient, account: Account, job_id: str, status: str = "finished", timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/v2/jobs/{job_id}", headers=account.headers())
        assert response.status_code == 200, response.text
        last = response.json()["data"]
        if last["status"] == status:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"job stayed {last.get('status')!r} ({last.get('statistics')}), expected {status!r}")


async def wait_until_all_final(
    client: httpx.AsyncClient, account: Account, job_id: str, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = (await client.get(f"/v2/jobs/{job_id}", headers=account.headers())).json()["data"]
        if job["progress"]["finished"] == job["row_count"]:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach final statuses: {job['statistics']}")
