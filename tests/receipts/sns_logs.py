"""SNS SMS delivery-status events written to moto's CloudWatch Logs, in AWS's own format.

Also the small pieces the CloudWatch tests share: a logs client for the moto server, a pair of
per-test log groups, and a way to send SMS through the real API and read back their provider
references.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from sqlalchemy import text

from notify.runtime import Runtime
from tests.fixtures.moto_server import (
    MOTO_ACCESS_KEY_ID,
    MOTO_REGION,
    MOTO_SECRET_ACCESS_KEY,
)
from tests.support.sending import recorded_references

STREAM = "2b6c6a4f-sms-delivery"


def logs_client(endpoint: str, *, attempts: int = 3) -> Any:  # noqa: ANN401 - boto3 clients are untyped
    return boto3.client(
        "logs",
        endpoint_url=endpoint,
        region_name=MOTO_REGION,
        aws_access_key_id=MOTO_ACCESS_KEY_ID,
        aws_secret_access_key=MOTO_SECRET_ACCESS_KEY,
        config=Config(retries={"mode": "standard", "max_attempts": attempts}),
    )


@dataclass(frozen=True)
class SnsLogGroups:
    """The two groups SNS writes SMS delivery status to, under an account id of this test's own."""

    account_id: str

    @property
    def success(self) -> str:
        return f"sns/{MOTO_REGION}/{self.account_id}/DirectPublishToPhoneNumber"

    @property
    def failure(self) -> str:
        return f"{self.success}/Failure"

    @property
    def names(self) -> tuple[str, str]:
        return (self.success, self.failure)


def new_account_id() -> str:
    """A fresh 12-digit account id, so tests sharing the moto server never see each other's groups."""
    return str(random.randrange(10**11, 10**12))


def create_log_groups(
    client: Any, account_id: str | None = None, *, failure: bool = True  # noqa: ANN401
) -> Iterator[SnsLogGroups]:
    """Make the groups (and a stream in each) on the moto server; delete them afterwards.

    ``failure=False`` leaves out the Failure group, as before SNS has logged its first failure.
    """
    groups = SnsLogGroups(account_id or new_account_id())
    made = [groups.success, groups.failure] if failure else [groups.success]
    for name in made:
        client.create_log_group(logGroupName=name)
        client.create_log_stream(logGroupName=name, logStreamName=STREAM)
    try:
        yield groups
    finally:
        for name in made:
            client.delete_log_group(logGroupName=name)


def delivery_event(
    reference: str,
    destination: str,
    *,
    success: bool = True,
    response: str = "Message has been accepted by phone carrier",
    carrier: str | None = "Verizon Wireless",
    at: datetime | None = None,
) -> str:
    """One event exactly as SNS logs it; ``destination`` is the recipient's number, as in AWS's logs."""
    delivery: dict[str, Any] = {
        "mnc": 4,
        "numberOfMessageParts": 1,
        "destination": destination,
        "priceInUSD": 0.00645,
        "smsType": "Transactional",
        "mcc": 310,
        "providerResponse": response,
        "dwellTimeMs": 599,
        "dwellTimeMsUntilDeviceAck": 1344,
    }
    if carrier is not None:
        delivery["phoneCarrier"] = carrier
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return json.dumps(
        {
            "notification": {"messageId": reference, "timestamp": stamp},
            "delivery": delivery,
            "status": "SUCCESS" if success else "FAILURE",
        }
    )


def epoch_ms(moment: datetime) -> int:
    """Whole milliseconds since the epoch, rounded down as the poller does."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def put_events(client: Any, group: str, events: Iterable[tuple[datetime, str]]) -> None:  # noqa: ANN401
    """Write events with their own timestamps (CloudWatch wants each request in time order)."""
    ordered = sorted(events, key=lambda item: item[0])
    client.put_log_events(
        logGroupName=group,
        logStreamName=STREAM,
        logEvents=[{"timestamp": epoch_ms(at), "message": message} for at, message in ordered],
    )


async def provider_references(runtime: Runtime, ids: list[str], timeout: float = 15.0) -> list[str]:
    return await recorded_references(runtime.engine, ids, timeout)


async def notification_rows(runtime: Runtime, ids: list[str]) -> list[dict[str, Any]]:
    async with runtime.engine.connect() as conn:
        result = await conn.execute(
            text("SELECT id::text, status, carrier, provider_response, completed_at, updated_at "
                 "FROM notifications WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": ids},
        )
        by_id = {row.id: dict(row._mapping) for row in result}
    return [by_id[i] for i in ids]


def unknown_reference() -> str:
    return f"sim-{uuid.uuid4()}"
