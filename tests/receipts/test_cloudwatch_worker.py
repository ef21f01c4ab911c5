"""The worker runs the CloudWatch poller as a periodic task when NOTIFY_CLOUDWATCH_RECEIPTS is on.

Nothing is deferred by hand here: the worker's own periodic deferrer schedules the poll (every
second in this test), and the poll finds the event written to moto's CloudWatch Logs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from notify.config import Settings
from notify.runtime import Runtime
from tests.fixtures.moto_server import (
    MOTO_ACCESS_KEY_ID,
    MOTO_REGION,
    MOTO_SECRET_ACCESS_KEY,
)
from tests.receipts.sns_logs import (
    SnsLogGroups,
    create_log_groups,
    delivery_event,
    logs_client,
    new_account_id,
    notification_rows,
    provider_references,
    put_events,
)
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.sending import send_sms


@pytest.fixture
def account_id() -> str:
    return new_account_id()


@pytest.fixture
def settings(settings: Settings, moto_s3_endpoint: str, account_id: str) -> Settings:
    return settings.model_copy(
        update={
            "simulated_delivery_delay_ms": 600_000,
            "cloudwatch_receipts": True,
            "cloudwatch_region": MOTO_REGION,
            "cloudwatch_account_id": account_id,
            "cloudwatch_endpoint_url": moto_s3_endpoint,
            "cloudwatch_access_key_id": MOTO_ACCESS_KEY_ID,
            "cloudwatch_secret_access_key": MOTO_SECRET_ACCESS_KEY,
            "cloudwatch_poll_seconds": 1,
            "cloudwatch_settle_lag_seconds": 0,
        }
    )


@pytest.fixture
def logs(moto_s3_endpoint: str) -> Iterator[Any]:
    client = logs_client(moto_s3_endpoint)
    yield client
    client.close()


@pytest.fixture
def groups(logs: Any, account_id: str) -> Iterator[SnsLogGroups]:
    yield from create_log_groups(logs, account_id)


async def test_the_worker_polls_cloudwatch_periodically(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit,
    logs: Any, groups: SnsLogGroups,
) -> None:
    periodic = runtime.queue.periodic_registry.periodic_tasks[("poll_cloudwatch_receipts", "cloudwatch")]
    assert periodic.cron == "* * * * * */1"
    assert (periodic.task.queueing_lock, periodic.task.lock) == ("poll_cloudwatch_receipts", "cloudwatch_receipts")
    assert runtime.settings.resolved_cloudwatch_log_groups == list(groups.names)

    numbers = ["+12025550151", "+12025550152"]
    pii_audit.track(*numbers)
    ids = await send_sms(client, account, numbers)
    refs = await provider_references(runtime, ids)
    at = datetime.now(UTC) - timedelta(seconds=2)
    put_events(logs, groups.success, [(at, delivery_event(refs[0], numbers[0], at=at))])
    put_events(logs, groups.failure, [
        (at, delivery_event(refs[1], numbers[1], success=False, response="Phone number is opted out", at=at))
    ])

    deadline = time.monotonic() + 20
    while [r["status"] for r in await notification_rows(runtime, ids)] != ["delivered", "permanent-failure"]:
        assert time.monotonic() < deadline, "the worker never applied the CloudWatch receipts"
        await asyncio.sleep(0.1)
    async with runtime.engine.connect() as conn:
        sources = (await conn.execute(text("SELECT source FROM receipt_sources WHERE source LIKE 'cloudwatch:%' ORDER BY source"))).scalars().all()
    assert sources == [f"cloudwatch:{name}" for name in groups.names]
