"""Shared steps for callback tests: register a callback, send, look at the outbox and the logs."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from sqlalchemy import text

from notify.callbacks.destinations import CallbackDestinations
from notify.catalogue.callbacks import set_delivery_callback
from notify.runtime import Runtime
from tests.support.accounts import Account
from tests.support.sending import send

BEARER_TOKEN = "callback-token-0123456789"


async def register_callback(runtime: Runtime, account: Account, url: str, token: str = BEARER_TOKEN) -> None:
    async with runtime.engine.begin() as conn:
        await set_delivery_callback(conn, runtime.secrets, account.service_id, url=url, bearer_token=token,
                                    destinations=CallbackDestinations(allow_http=True, allow_internal=True))


async def send_sms(client: httpx.AsyncClient, account: Account, number: str, reference: str | None = None) -> str:
    return await send(client, account, number, reference=reference)


async def outbox_rows(runtime: Runtime) -> list[tuple[str, int, str | None]]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(text("SELECT notification_id::text, attempts, last_error FROM callback_outbox"))
        return [(r[0], r[1], r[2]) for r in rows.all()]


async def wait_for_empty_outbox(runtime: Runtime, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while await outbox_rows(runtime):
        assert time.monotonic() < deadline, "the callback outbox never emptied"
        await asyncio.sleep(0.05)


def log_events(records: list[logging.LogRecord], action: str) -> list[dict[str, Any]]:
    """Structured events (structlog puts the event dict in ``msg``) with this ``action``."""
    return [r.msg for r in records if isinstance(r.msg, dict) and r.msg.get("action") == action]
