"""The CloudWatch receipt poller: SNS SMS delivery status, read in bulk by time window.

Notify.gov asks CloudWatch Logs once per message (a search for its message id); CloudWatch allows
a few such requests a second per account, so a 25k send was throttled for hours.  We read each
delivery-status log group by time window instead: one FilterLogEvents page returns up to 10,000
events, whichever messages they belong to, and we keep those whose reference we know.

Nothing is skipped, even across restarts and outages, because of a persisted watermark per log
group (``receipt_sources``: every event up to ``read_to_ms`` has been read and applied):

- each round reads ``[watermark - overlap, now - settle_lag]`` in windows of at most ``window``,
  so a long outage is caught up in steps;
- each window's receipts are applied and the watermark moved in ONE transaction, so a crash
  either keeps both or neither;
- CloudWatch ingests events seconds (rarely minutes) after their timestamp: the settle lag waits
  for most of them, and re-reading the overlap catches the rest.  An event that reaches
  CloudWatch up to about settle_lag + overlap late is still applied.  Re-read events are
  harmless: the applier only moves a status forward;
- a CloudWatch error (throttling, outage, access denied) ends the round for that log group before
  its watermark moves; the next round starts again from it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notify.config import Settings
from notify.log_config import get_logger
from notify.receipts.apply import Receipt, apply_receipts
from notify.receipts.cloudwatch_logs import CloudWatchUnavailable, LogGroupNotFound, LogWindowReader
from notify.receipts.sns_sms_log import MalformedEvent, parse_delivery_status

logger = get_logger(__name__)

SOURCE_PREFIX = "cloudwatch:"


@dataclass(frozen=True, slots=True)
class PollerConfig:
    log_groups: tuple[str, ...]
    settle_lag: timedelta = timedelta(seconds=30)
    overlap: timedelta = timedelta(seconds=120)
    window: timedelta = timedelta(minutes=5)
    lookback: timedelta = timedelta(hours=1)
    batch_size: int = 10_000  # receipts per apply_receipts statement

    @classmethod
    def from_settings(cls, settings: Settings) -> PollerConfig:
        return cls(
            log_groups=tuple(settings.resolved_cloudwatch_log_groups),
            settle_lag=timedelta(seconds=settings.cloudwatch_settle_lag_seconds),
            overlap=timedelta(seconds=settings.cloudwatch_overlap_seconds),
            window=timedelta(seconds=settings.cloudwatch_window_seconds),
            lookback=timedelta(seconds=settings.cloudwatch_lookback_seconds),
        )


@dataclass(frozen=True, slots=True)
class WindowRead:
    """One window read and applied: counts only, never an event's content."""

    log_group: str
    start: datetime
    end: datetime
    target: datetime  # where this round stops: now - settle lag
    events: int
    skipped: int
    changed: int


@dataclass
class GroupProgress:
    log_group: str
    windows: int = 0
    events: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # malformed events by reason
    changed: int = 0
    read_to: datetime | None = None  # the watermark after this round
    error: str | None = None  # the CloudWatch error code that ended this round early
    missing: bool = False  # the log group does not exist (yet)


@dataclass
class PollReport:
    groups: list[GroupProgress]

    @property
    def errors(self) -> dict[str, str]:
        return {g.log_group: g.error for g in self.groups if g.error}

    def totals(self) -> dict[str, int]:
        return {
            "windows": sum(g.windows for g in self.groups),
            "events": sum(g.events for g in self.groups),
            "skipped": sum(sum(g.skipped.values()) for g in self.groups),
            "changed": sum(g.changed for g in self.groups),
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.totals(), "errors": self.errors, "groups": [asdict(g) for g in self.groups]}


def source_name(log_group: str) -> str:
    return SOURCE_PREFIX + log_group


def poll_cron(poll_seconds: int) -> str:
    """The periodic task's schedule: procrastinate's cron takes seconds as an optional sixth field."""
    return "* * * * *" if poll_seconds >= 60 else f"* * * * * */{poll_seconds}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    """CloudWatch's time: whole milliseconds since the epoch (exact; float seconds can be off by one)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class CloudWatchReceiptPoller:
    """Catches every configured log group up to now - settle lag; see the module docstring.

    ``clock`` is injectable so a test can stop the poller "in the past" and restart it later;
    ``on_window`` lets the CLI show progress.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        reader: LogWindowReader,
        config: PollerConfig,
        *,
        clock: Callable[[], datetime] = _utc_now,
        on_window: Callable[[WindowRead], None] | None = None,
    ) -> None:
        self._engine = engine
        self._reader = reader
        self._config = config
        self._clock = clock
        self._on_window = on_window

    async def poll(self, *, since: datetime | None = None) -> PollReport:
        """One round over every log group; ``since`` also re-reads from that time (never skips forward)."""
        now = self._clock()
        target_ms = _ms(now - self._config.settle_lag)
        report = PollReport([])
        for log_group in self._config.log_groups:
            report.groups.append(await self._catch_up(log_group, now, target_ms, since))
        return report

    async def _catch_up(self, log_group: str, now: datetime, target_ms: int, since: datetime | None) -> GroupProgress:
        progress = GroupProgress(log_group)
        source = source_name(log_group)
        async with self._engine.connect() as conn:
            watermark = await read_watermark(conn, source)
        progress.read_to = None if watermark is None else _time(watermark)
        if watermark is None:
            start = _ms(now - self._config.lookback)
        else:
            start = watermark + 1 - int(self._config.overlap.total_seconds() * 1000)
        if since is not None:  # only ever further back: jumping forward would skip unread events
            start = min(start, _ms(since))
        window_ms = max(int(self._config.window.total_seconds() * 1000), 1)
        skipped: Counter[str] = Counter()
        while start <= target_ms:
            end = min(start + window_ms - 1, target_ms)
            try:
                receipts, events, window_skipped = await self._read(log_group, start, end)
            except LogGroupNotFound:
                progress.missing = True
                logger.info("log group does not exist yet", action="receipts.cloudwatch.group_missing",
                            log_group=log_group)
                break
            except CloudWatchUnavailable as exc:
                progress.error = exc.code
                logger.warning("cloudwatch read failed; retrying from the watermark next round",
                               action="receipts.cloudwatch.read_failed", log_group=log_group, error=exc.code,
                               window_start=_time(start).isoformat(), window_end=_time(end).isoformat())
                break
            changed = await self._apply(source, receipts, end)
            skipped.update(window_skipped)
            progress.windows += 1
            progress.events += events
            progress.changed += changed
            progress.read_to = max(progress.read_to or _time(end), _time(end))
            read = WindowRead(log_group, _time(start), _time(end), _time(target_ms), events,
                              sum(window_skipped.values()), changed)
            self._log_window(read, window_skipped)
            if self._on_window is not None:
                self._on_window(read)
            start = end + 1
        progress.skipped = dict(skipped)
        return progress

    async def _read(self, log_group: str, start_ms: int, end_ms: int) -> tuple[list[Receipt], int, Counter[str]]:
        """Parse each page as it arrives, so raw events (which hold phone numbers) do not pile up."""
        receipts: list[Receipt] = []
        events = 0
        skipped: Counter[str] = Counter()
        async for page in self._reader.pages(log_group, start_ms, end_ms):
            events += len(page)
            for message in page:
                try:
                    receipts.append(parse_delivery_status(message))
                except MalformedEvent as exc:
                    skipped[exc.reason] += 1
        return receipts, events, skipped

    async def _apply(self, source: str, receipts: Sequence[Receipt], end_ms: int) -> int:
        """Apply a window's receipts and move its watermark together: both or neither."""
        changed = 0
        size = self._config.batch_size
        async with self._engine.begin() as conn:
            for first in range(0, len(receipts), size):
                changed += (await apply_receipts(conn, receipts[first : first + size])).changed
            await save_watermark(conn, source, end_ms)
        return changed

    @staticmethod
    def _log_window(read: WindowRead, skipped: Counter[str]) -> None:
        log = logger.info if read.events else logger.debug
        log("cloudwatch window applied", action="receipts.cloudwatch.window", log_group=read.log_group,
            window_start=read.start.isoformat(), window_end=read.end.isoformat(), events=read.events,
            skipped=read.skipped, skipped_reasons=dict(skipped), changed=read.changed,
            behind_seconds=round((read.target - read.end).total_seconds()))


_READ_WATERMARK = text("SELECT position->>'read_to_ms' FROM receipt_sources WHERE source = :source")

# The watermark only moves forward: two pollers (the worker's and an operator's) may overlap, and
# each has read everything up to the value it writes, so the larger one is always safe.
_SAVE_WATERMARK = text(
    """
    INSERT INTO receipt_sources AS s (source, position, updated_at)
    VALUES (:source, CAST(:position AS jsonb), now())
    ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
    WHERE COALESCE((s.position->>'read_to_ms')::bigint, -1) < (EXCLUDED.position->>'read_to_ms')::bigint
    """
)


async def read_watermark(conn: AsyncConnection, source: str) -> int | None:
    """Milliseconds since the epoch up to which ``source`` has been read, or None before its first window."""
    value = (await conn.execute(_READ_WATERMARK, {"source": source})).scalar_one_or_none()
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


async def save_watermark(conn: AsyncConnection, source: str, read_to_ms: int) -> None:
    position = {"read_to_ms": read_to_ms, "read_to": _time(read_to_ms).isoformat()}
    await conn.execute(_SAVE_WATERMARK, {"source": source, "position": json.dumps(position)})


async def poll_cloudwatch(engine: AsyncEngine, settings: Settings) -> PollReport:
    """One round with the configured log groups and client: what the worker's periodic task runs."""
    reader = LogWindowReader.from_settings(settings)
    try:
        report = await CloudWatchReceiptPoller(engine, reader, PollerConfig.from_settings(settings)).poll()
    finally:
        reader.close()
    totals = report.totals()
    log = logger.info if report.errors or totals["events"] else logger.debug
    log("cloudwatch round done", action="receipts.cloudwatch.round", **totals, errors=report.errors)
    return report
