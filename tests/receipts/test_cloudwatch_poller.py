"""The CloudWatch receipt poller against moto's CloudWatch Logs over HTTP, with real sends and PostgreSQL.

Notifications are sent through the API and handed to the simulated provider; its own receipts
are held back (10 minutes), so each notification waits in 'sending' for the events these tests
write to the SNS delivery-status log groups.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from notify.cli import app
from notify.config import Settings
from notify.receipts.cloudwatch import (
    CloudWatchReceiptPoller,
    PollerConfig,
    read_watermark,
    save_watermark,
    source_name,
)
from notify.receipts.cloudwatch_logs import LogWindowReader
from notify.runtime import Runtime
from notify.statuses import label
from tests.fixtures.moto_server import (
    MOTO_ACCESS_KEY_ID,
    MOTO_REGION,
    MOTO_SECRET_ACCESS_KEY,
)
from tests.receipts.sns_logs import (
    SnsLogGroups,
    create_log_groups,
    delivery_event,
    epoch_ms,
    logs_client,
    notification_rows,
    provider_references,
    put_events,
    unknown_reference,
)
from tests.support.accounts import Account
from tests.support.pii_audit import PiiAudit
from tests.support.sending import send_sms

LAG = timedelta(seconds=10)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"simulated_delivery_delay_ms": 600_000})


@pytest.fixture
def logs(moto_s3_endpoint: str) -> Iterator[Any]:
    client = logs_client(moto_s3_endpoint)
    yield client
    client.close()


@pytest.fixture
def groups(logs: Any) -> Iterator[SnsLogGroups]:
    yield from create_log_groups(logs)


@pytest.fixture
def make_poller(
    runtime: Runtime, moto_s3_endpoint: str, groups: SnsLogGroups
) -> Iterator[Callable[..., CloudWatchReceiptPoller]]:
    """A new poller each call (a restarted process), with its own client; the state is in the database."""
    clients: list[Any] = []

    def make(
        *, clock: Callable[[], datetime] | None = None, endpoint: str | None = None, **config: Any
    ) -> CloudWatchReceiptPoller:
        client = logs_client(endpoint or moto_s3_endpoint, attempts=1)
        clients.append(client)
        options = {"settle_lag": LAG, "overlap": timedelta(minutes=2), "window": timedelta(minutes=5)} | config
        return CloudWatchReceiptPoller(
            runtime.engine,
            LogWindowReader(client),
            PollerConfig(log_groups=groups.names, **options),
            **({"clock": clock} if clock else {}),
        )

    yield make
    for client in clients:
        client.close()


async def _sent(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit, numbers: list[str]
) -> tuple[list[str], list[str]]:
    pii_audit.track(*numbers)
    ids = await send_sms(client, account, numbers)
    return ids, await provider_references(runtime, ids)


async def _watermark(runtime: Runtime, log_group: str) -> int | None:
    async with runtime.engine.connect() as conn:
        return await read_watermark(conn, source_name(log_group))


async def test_statuses_from_both_log_groups_are_applied_and_bad_events_skipped(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit,
    logs: Any, groups: SnsLogGroups, make_poller: Callable[..., CloudWatchReceiptPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    numbers = ["+12025550171", "+12025550172", "+12025550173", "+12025550174"]
    ids, refs = await _sent(client, account, runtime, pii_audit, numbers)
    now = datetime.now(UTC)
    at = now - timedelta(minutes=2)
    put_events(logs, groups.success, [(at, delivery_event(refs[0], numbers[0], carrier="Verizon Wireless", at=at))])
    put_events(logs, groups.failure, [
        (at, delivery_event(refs[1], numbers[1], success=False, response="Phone carrier has blocked this message",
                            carrier="T-Mobile USA", at=at)),
        (at, delivery_event(refs[2], numbers[2], success=False, response="Phone is currently unreachable/unavailable",
                            carrier=None, at=at)),
        (at, delivery_event(refs[3], numbers[3], success=False, response="Unknown error attempting to reach phone",
                            at=at)),
        # Not delivery statuses: skipped and counted, never fatal, never logged.
        (at, "not json " + numbers[0]),
        (at, json.dumps({"delivery": {"destination": numbers[1]}, "status": "SUCCESS"})),
        (at, json.dumps({"notification": {"messageId": refs[0]}, "delivery": {"destination": numbers[2]},
                         "status": "PENDING"})),
        (at, json.dumps([numbers[3]])),
        # A message that is not ours (another application in the account): read, matches nothing.
        (at, delivery_event(unknown_reference(), "+12025550199", at=at)),
    ])

    report = await make_poller(clock=lambda: now).poll()

    assert report.errors == {}
    totals = report.totals()
    assert (totals["events"], totals["skipped"], totals["changed"]) == (9, 4, 4)
    failure = next(g for g in report.groups if g.log_group == groups.failure)
    assert failure.skipped == {"not-json": 1, "missing-notification-or-delivery": 1, "unknown-status": 1,
                               "not-an-object": 1}
    rows = await notification_rows(runtime, ids)
    assert [(r["status"], r["carrier"], r["provider_response"]) for r in rows] == [
        ("delivered", "Verizon Wireless", "Message has been accepted by phone carrier"),
        ("permanent-failure", "T-Mobile USA", "Phone carrier has blocked this message"),
        ("temporary-failure", None, "Phone is currently unreachable/unavailable"),
        ("technical-failure", "Verizon Wireless", "Unknown error attempting to reach phone"),
    ]
    assert all(r["completed_at"] for r in rows)
    assert label("sms", rows[1]["status"], rows[1]["provider_response"]) == "Carrier rejected"
    # Each log group's watermark is persisted: read up to now - settle lag.
    for name in groups.names:
        assert await _watermark(runtime, name) == epoch_ms(now - LAG)
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    windows = [m for m in logged if m.get("action") == "receipts.cloudwatch.window" and m["events"]]
    assert {(m["log_group"], m["events"], m["skipped"], m["changed"]) for m in windows} == {
        (groups.success, 1, 0, 1), (groups.failure, 8, 4, 3)
    }
    # pii_audit (on teardown): no destination number in any table, log line or file.


async def test_a_restarted_poller_catches_up_an_outage_without_skipping(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit,
    logs: Any, groups: SnsLogGroups, make_poller: Callable[..., CloudWatchReceiptPoller],
) -> None:
    numbers = [f"+1202555{n:04d}" for n in range(181, 185)]
    ids, refs = await _sent(client, account, runtime, pii_audit, numbers)
    real_now = datetime.now(UTC)
    stopped_at = real_now - timedelta(minutes=30)

    # The poller last ran half an hour ago, then the worker was down.
    before = await make_poller(clock=lambda: stopped_at).poll()
    assert before.totals()["events"] == 0
    watermark = await _watermark(runtime, groups.success)
    assert watermark == epoch_ms(stopped_at - LAG)

    # Events logged during the outage, all older than "now" when the poller comes back.
    during = [real_now - timedelta(minutes=m) for m in (29, 17, 6, 1)]
    put_events(logs, groups.success, [(during[0], delivery_event(refs[0], numbers[0], at=during[0])),
                                      (during[2], delivery_event(refs[2], numbers[2], at=during[2]))])
    put_events(logs, groups.failure, [
        (during[1], delivery_event(refs[1], numbers[1], success=False, response="Invalid phone number", at=during[1])),
        (during[3], delivery_event(refs[3], numbers[3], success=False, response="TTL expired", at=during[3])),
    ])

    after = await make_poller(clock=lambda: real_now).poll()  # a new instance: a restarted worker

    assert after.errors == {}
    # 30 minutes (plus the overlap) in windows of at most 5 minutes, per group.
    assert all(g.windows >= 6 for g in after.groups)
    assert after.totals()["changed"] == 4
    rows = await notification_rows(runtime, ids)
    assert [r["status"] for r in rows] == ["delivered", "permanent-failure", "delivered", "temporary-failure"]
    for name in groups.names:
        assert await _watermark(runtime, name) == epoch_ms(real_now - LAG)


async def test_late_events_in_the_overlap_are_applied_and_duplicates_change_nothing(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit,
    logs: Any, groups: SnsLogGroups, make_poller: Callable[..., CloudWatchReceiptPoller],
) -> None:
    numbers = ["+12025550191", "+12025550192"]
    ids, refs = await _sent(client, account, runtime, pii_audit, numbers)
    now = datetime.now(UTC) - timedelta(minutes=5)
    watermark = now - LAG
    early = watermark - timedelta(seconds=60)
    put_events(logs, groups.success, [(early, delivery_event(refs[0], numbers[0], at=early))])

    first = await make_poller(clock=lambda: now).poll()
    assert first.totals()["changed"] == 1
    applied = (await notification_rows(runtime, ids))[0]

    # Ingested after that round, but stamped before its watermark: only the overlap re-read finds it.
    late = watermark - timedelta(seconds=30)
    put_events(logs, groups.success, [(late, delivery_event(refs[1], numbers[1], at=late))])
    second = await make_poller(clock=lambda: now + timedelta(minutes=1)).poll()

    success = next(g for g in second.groups if g.log_group == groups.success)
    assert (success.events, success.changed) == (2, 1)  # the first event was read again, and changed nothing
    rows = await notification_rows(runtime, ids)
    assert [r["status"] for r in rows] == ["delivered", "delivered"]
    assert (rows[0]["updated_at"], rows[0]["completed_at"]) == (applied["updated_at"], applied["completed_at"])


class _ThrottlingHandler(BaseHTTPRequestHandler):
    """CloudWatch Logs answering every request as it does when a client goes over its rate."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture
def throttling_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ThrottlingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_throttling_leaves_the_watermark_and_the_next_round_catches_up(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit,
    logs: Any, groups: SnsLogGroups, make_poller: Callable[..., CloudWatchReceiptPoller], throttling_endpoint: str,
) -> None:
    numbers = ["+12025550161"]
    ids, refs = await _sent(client, account, runtime, pii_audit, numbers)
    real_now = datetime.now(UTC)
    await make_poller(clock=lambda: real_now - timedelta(minutes=20)).poll()
    watermark = await _watermark(runtime, groups.success)
    at = real_now - timedelta(minutes=15)
    put_events(logs, groups.success, [(at, delivery_event(refs[0], numbers[0], at=at))])

    throttled = await make_poller(clock=lambda: real_now, endpoint=throttling_endpoint).poll()

    assert throttled.errors == {name: "ThrottlingException" for name in groups.names}
    assert throttled.totals()["windows"] == 0
    assert await _watermark(runtime, groups.success) == watermark
    assert [r["status"] for r in await notification_rows(runtime, ids)] == ["sending"]

    recovered = await make_poller(clock=lambda: real_now).poll()
    assert recovered.errors == {} and recovered.totals()["changed"] == 1
    assert [r["status"] for r in await notification_rows(runtime, ids)] == ["delivered"]


@pytest.fixture
def success_group_only(logs: Any) -> Iterator[SnsLogGroups]:
    yield from create_log_groups(logs, failure=False)


async def test_a_log_group_that_does_not_exist_yet_is_not_an_error_and_keeps_no_watermark(
    runtime: Runtime, logs: Any, success_group_only: SnsLogGroups
) -> None:
    groups = success_group_only
    report = await CloudWatchReceiptPoller(runtime.engine, LogWindowReader(logs), PollerConfig(groups.names)).poll()
    missing = next(g for g in report.groups if g.log_group == groups.failure)
    assert (missing.missing, missing.error, missing.windows) == (True, None, 0)
    assert report.errors == {}
    assert await _watermark(runtime, groups.failure) is None
    assert await _watermark(runtime, groups.success) is not None


async def test_the_worker_has_no_poll_task_unless_enabled(runtime: Runtime) -> None:
    assert not runtime.settings.cloudwatch_receipts
    assert "poll_cloudwatch_receipts" not in runtime.queue.tasks
    async with runtime.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM receipt_sources"))).scalar_one() == 0


def _cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, ["receipts", "poll-cloudwatch", *args], env=env)


async def test_the_cli_catches_up_once_and_reports_failures(
    client: httpx.AsyncClient, account: Account, runtime: Runtime, pii_audit: PiiAudit,
    logs: Any, groups: SnsLogGroups, env: dict[str, str], moto_s3_endpoint: str, throttling_endpoint: str,
) -> None:
    numbers = ["+12025550141", "+12025550142"]
    ids, refs = await _sent(client, account, runtime, pii_audit, numbers)
    at = datetime.now(UTC) - timedelta(minutes=3)
    put_events(logs, groups.success, [(at, delivery_event(refs[0], numbers[0], at=at))])
    put_events(logs, groups.failure, [
        (at, delivery_event(refs[1], numbers[1], success=False, response="Phone has blocked SMS", at=at))
    ])
    cw_env = env | {
        "NOTIFY_CLOUDWATCH_LOG_GROUPS": ",".join(groups.names),
        "NOTIFY_CLOUDWATCH_REGION": MOTO_REGION,
        "NOTIFY_CLOUDWATCH_ENDPOINT_URL": moto_s3_endpoint,
        "NOTIFY_CLOUDWATCH_ACCESS_KEY_ID": MOTO_ACCESS_KEY_ID,
        "NOTIFY_CLOUDWATCH_SECRET_ACCESS_KEY": MOTO_SECRET_ACCESS_KEY,
    }

    first = await asyncio.to_thread(_cli, cw_env, "--once", "--json")
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout.strip().splitlines()[-1])
    assert (result["events"], result["changed"], result["skipped"], result["errors"]) == (2, 2, 0, {})
    assert [r["status"] for r in await notification_rows(runtime, ids)] == ["delivered", "permanent-failure"]

    again = await asyncio.to_thread(_cli, cw_env, "--once", "--since", (at - timedelta(minutes=1)).isoformat())
    assert again.exit_code == 0, again.output
    assert "2 events, 0 notifications updated" in " ".join(again.output.split())

    # One group: botocore backs off (about 4 s) before giving up on each.
    throttled_env = cw_env | {"NOTIFY_CLOUDWATCH_ENDPOINT_URL": throttling_endpoint,
                              "NOTIFY_CLOUDWATCH_LOG_GROUPS": groups.success}
    throttled = await asyncio.to_thread(_cli, throttled_env, "--once")
    assert throttled.exit_code == 1
    assert "ThrottlingException" in throttled.output and "rerun" in throttled.output
    assert not any(number in out for number in numbers for out in (first.output, again.output, throttled.output))

    unnamed = await asyncio.to_thread(_cli, env, "--once")
    assert unnamed.exit_code == 1 and "NOTIFY_CLOUDWATCH_LOG_GROUPS" in unnamed.output
    bad = await asyncio.to_thread(_cli, cw_env, "--once", "--since", "yesterday")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


async def test_the_watermark_never_moves_back(runtime: Runtime) -> None:
    """Two pollers (the worker's and an operator's) may overlap; the one further ahead wins."""
    async with runtime.engine.begin() as conn:
        await save_watermark(conn, "cloudwatch:test", 2_000)
        await save_watermark(conn, "cloudwatch:test", 1_000)
        assert await read_watermark(conn, "cloudwatch:test") == 2_000
        await save_watermark(conn, "cloudwatch:test", 3_000)
        assert await read_watermark(conn, "cloudwatch:test") == 3_000
        position = (await conn.execute(text("SELECT position FROM receipt_sources"))).scalar_one()
    assert position == {"read_to_ms": 3_000, "read_to": "1970-01-01T00:00:03+00:00"}


async def test_a_window_is_read_page_by_page(logs: Any, groups: SnsLogGroups) -> None:
    base = datetime.now(UTC) - timedelta(minutes=1)
    stamps = [base + timedelta(seconds=s) for s in range(5)]
    put_events(logs, groups.success, [(at, f"event {n}") for n, at in enumerate(stamps)])
    reader = LogWindowReader(logs, page_limit=2)
    pages = [page async for page in reader.pages(groups.success, epoch_ms(stamps[0]), epoch_ms(stamps[-1]))]
    assert pages == [["event 0", "event 1"], ["event 2", "event 3"], ["event 4"]]
    # Both ends of a window are inclusive, so consecutive windows [a, b], [b + 1, c] miss nothing.
    edges = [page async for page in reader.pages(groups.success, epoch_ms(stamps[1]), epoch_ms(stamps[2]))]
    assert edges == [["event 1", "event 2"]]
