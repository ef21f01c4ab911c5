"""Report exports in tests: request one and wait, with a deadline, until the worker has written it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.support.accounts import Account


async def wait_for_export(
    client: httpx.AsyncClient, account: Account, export_id: str, timeout: float = 20.0
) -> dict[str, Any]:
    """The export's status once it is ready or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = (await client.get(f"/v2/reports/{export_id}", headers=account.headers())).json()["data"]
        if data["status"] in ("ready", "failed"):
            return data  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError("export never finished")


async def ready_export(client: httpx.AsyncClient, account: Account, **body: Any) -> dict[str, Any]:
    requested = await client.post("/v2/reports", json=body, headers=account.headers())
    assert requested.status_code == 202, requested.text
    done = await wait_for_export(client, account, requested.json()["data"]["id"])
    assert done["status"] == "ready", done
    return done
