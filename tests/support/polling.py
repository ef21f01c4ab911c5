"""Wait for asynchronous work (the worker) to reach a state, with a deadline instead of sleeps."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.support.accounts import Account


async def wait_for_status(
    client: httpx.AsyncClient, account: Account, notification_id: str, status: str, timeout: float = 15.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/v2/notifications/{notification_id}", headers=account.headers())
        assert response.status_code == 200, response.text
        last = response.json()
        if last["status"] == status:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"notification stayed {last.get('status')!r}, expected {status!r}")


async def wait_for_export(
    client: httpx.AsyncClient, account: Account, export_id: str, timeout: float = 20.0
) -> dict[str, Any]:
    """An export's status once it is ready or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = (await client.get(f"/v2/reports/{export_id}", headers=account.headers())).json()["data"]
        if data["status"] in ("ready", "failed"):
            return data  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError("export never finished")
