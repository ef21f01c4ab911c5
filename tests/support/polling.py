"""Wait for asynchronous work (the worker) to reach a state, with a deadline instead of sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
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


async def wait_until(condition: Callable[[], object], what: str, timeout: float = 15.0, interval: float = 0.01) -> None:
    """Wait until ``condition()`` is truthy; ``what`` names the state in the failure message."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)
