"""POSTing delivery-status callbacks to each service's own URL.

This runs in its own loop in every worker (notify.worker), never on the receipt path: receipts
only add outbox rows (notify.callbacks.outbox), so a slow or broken callback URL can delay
nothing but its own callbacks. A round claims a batch (notify.callbacks.claims), reads the
recipients with one storage read per job, POSTs concurrently over one shared client and records
the outcomes. No database connection is held while POSTs are in flight.

Which failures are retried follows GOV.UK Notify: timeouts, connection errors, 5xx, 408 and 429
are retried after a capped exponential backoff with jitter. Any other answer (3xx, 4xx) is the
receiver refusing this request as configured (wrong token, wrong path); sending it again would
only repeat the refusal, so the callback is given up at once. Logs name the notification, the
service, the attempt and a status code or error class: never a response body, the URL or a
recipient, and the recipient exists only in the request body.

Before each POST the URL is checked again (notify.callbacks.destinations): the scheme, and the
addresses its host resolves to now, and the POST goes to the address that was checked.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.callbacks.claims import Due, Retry, claim_due, record_outcomes
from notify.callbacks.destinations import CallbackDestinations, DestinationRefused, DestinationUnresolved
from notify.callbacks.payload import delivery_status_body
from notify.config import Settings
from notify.jobs.records import job_files
from notify.log_config import get_logger
from notify.recipients.batch_file import RecipientRow
from notify.recipients.lookup import read_rows
from notify.secrets import SecretBox, SecretDecryptionError
from notify.storage import ObjectStore

logger = get_logger(__name__)

# A response body is never used; reading a little lets the connection be reused, and stopping
# there keeps a receiver that answers with a huge body from filling our memory.
_MAX_RESPONSE_BYTES = 64 * 1024
_RETRYABLE_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    batch_size: int = 100
    concurrency: int = 20
    timeout_seconds: float = 5.0
    max_attempts: int = 6
    backoff_base_seconds: float = 60.0
    backoff_cap_seconds: float = 900.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CallbackPolicy:
        return cls(
            batch_size=settings.callback_batch_size,
            concurrency=settings.callback_concurrency,
            timeout_seconds=settings.callback_timeout_seconds,
            max_attempts=settings.callback_max_attempts,
            backoff_base_seconds=settings.callback_backoff_base_seconds,
            backoff_cap_seconds=settings.callback_backoff_cap_seconds,
        )

    @property
    def lease_seconds(self) -> float:
        """Longer than a round can take: every POST timing out, ``concurrency`` at a time, plus reads.

        Derived rather than configured, so no setting can make two workers send the same batch.
        """
        return self.timeout_seconds * math.ceil(self.batch_size / self.concurrency) + 30

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait after failed attempt ``attempt``: doubling from the base, capped, the upper half random
        so that a receiver coming back up is not hit by every pending retry at the same moment."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2.0 ** min(attempt - 1, 60))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class Answer:
    """What one POST came to: delivered, worth retrying, or refused for good."""

    ok: bool
    retryable: bool = False
    error: str | None = None  # "HTTP 503", "ConnectError", "Timeout": never a body or a URL


_DELIVERED = Answer(ok=True)


def _retry(error: str) -> Answer:
    return Answer(ok=False, retryable=True, error=error)


def _refused(error: str) -> Answer:
    return Answer(ok=False, retryable=False, error=error)


@dataclass
class RoundOutcome:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    gave_up: int = 0
    dropped: int = 0  # nothing to send: the notification or the service's callback is gone


@dataclass
class CallbackDispatcher:
    engine: AsyncEngine
    store: ObjectStore
    secrets: SecretBox
    client: httpx.AsyncClient
    policy: CallbackPolicy
    default_region: str = "US"
    rng: random.Random = field(default_factory=random.Random)
    # Production's rules unless told otherwise: https, public addresses only (see destinations).
    destinations: CallbackDestinations = field(default_factory=CallbackDestinations)

    async def dispatch_once(self) -> RoundOutcome:
        """One round: claim, read recipients, POST, record. ``claimed`` tells the loop whether to go on."""
        claimed = await claim_due(self.engine, limit=self.policy.batch_size, lease_seconds=self.policy.lease_seconds)
        outcome = RoundOutcome(claimed=len(claimed))
        if not claimed:
            return outcome
        done: list[uuid.UUID] = []
        given_up: list[tuple[uuid.UUID, int]] = []
        retries: list[Retry] = []
        live: list[Due] = []
        for due in claimed:
            if due.notification is None or due.url is None or due.token_encrypted is None:
                done.append(due.notification_id)
                outcome.dropped += 1
            elif due.attempt > self.policy.max_attempts:
                # The worker that made the last allowed attempt stopped before recording it.
                self._give_up(due, "unfinished attempt")
                given_up.append((due.notification_id, due.attempt))
            else:
                live.append(due)
        recipients, unreadable = await self._recipients(live)
        limit = asyncio.Semaphore(self.policy.concurrency)

        async def one(due: Due) -> Answer:
            if due.notification_id in unreadable:
                return _retry(unreadable[due.notification_id])
            async with limit:
                return await self._post(due, recipients.get(due.notification_id))

        answers = await asyncio.gather(*(one(d) for d in live))
        for due, answer in zip(live, answers, strict=True):
            if answer.ok:
                done.append(due.notification_id)
                outcome.sent += 1
            elif answer.retryable and due.attempt < self.policy.max_attempts:
                delay = self.policy.backoff(due.attempt, self.rng)
                retries.append(Retry(due.notification_id, due.attempt, delay, answer.error or "error"))
                logger.debug("callback failed; will retry", action="callbacks.retry",
                             notification_id=str(due.notification_id), service_id=str(due.service_id),
                             attempt=due.attempt, error=answer.error, retry_in_seconds=round(delay, 3))
            else:
                self._give_up(due, answer.error or "error")
                given_up.append((due.notification_id, due.attempt))
        outcome.retrying, outcome.gave_up = len(retries), len(given_up)
        await record_outcomes(self.engine, done=done, given_up=given_up, retries=retries)
        logger.info("callback round", action="callbacks.round", claimed=outcome.claimed, sent=outcome.sent,
                    retrying=outcome.retrying, gave_up=outcome.gave_up, dropped=outcome.dropped)
        return outcome

    def _give_up(self, due: Due, error: str) -> None:
        logger.warning("callback given up", action="callbacks.gave_up", notification_id=str(due.notification_id),
                       service_id=str(due.service_id), attempts=due.attempt, error=error)

    async def _recipients(self, dues: Sequence[Due]) -> tuple[dict[uuid.UUID, str | None], dict[uuid.UUID, str]]:
        """Each notification's recipient, one read per job: None once the file has expired.

        The second dict holds notifications whose file could not be read right now (storage
        down): their attempt fails and is retried like a failed POST.
        """
        by_job: dict[uuid.UUID, list[Due]] = defaultdict(list)
        for due in dues:
            assert due.notification is not None
            by_job[due.notification.job_id].append(due)
        if not by_job:
            return {}, {}
        async with self.engine.connect() as conn:
            files = await job_files(conn, set(by_job))

        async def read_job(job_id: uuid.UUID) -> dict[int, str | None]:
            file = files.get(job_id)
            if file is None:
                return {}
            rows = [d.notification.job_row_number for d in by_job[job_id] if d.notification is not None]
            found = await read_rows(self.store, file, rows, default_region=self.default_region)
            # An expired file or an unreadable row: the callback still goes, with "to": null.
            return {n: (row.recipient if isinstance(row, RecipientRow) else None) for n, row in found.items()}

        results = await asyncio.gather(*(read_job(j) for j in by_job), return_exceptions=True)
        recipients: dict[uuid.UUID, str | None] = {}
        unreadable: dict[uuid.UUID, str] = {}
        for job_id, result in zip(by_job, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            for due in by_job[job_id]:
                assert due.notification is not None
                if isinstance(result, Exception):
                    unreadable[due.notification_id] = f"storage {type(result).__name__}"
                else:
                    recipients[due.notification_id] = result.get(due.notification.job_row_number)
        return recipients, unreadable

    async def _post(self, due: Due, to: str | None) -> Answer:
        assert due.notification is not None and due.url is not None and due.token_encrypted is not None
        try:
            token = self.secrets.decrypt(due.token_encrypted)
        except SecretDecryptionError:
            return _refused("SecretDecryptionError")
        content = orjson.dumps(delivery_status_body(due.notification_id, due.notification, to))
        try:
            # httpx's timeout is per phase; this bounds the whole request, slow trickles included.
            async with asyncio.timeout(self.policy.timeout_seconds):
                # Checked now, not only at registration: the service's DNS may point elsewhere since.
                target = await self.destinations.pin(due.url)
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                           "Host": target.host_header}
                extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
                async with self.client.stream(
                    "POST", target.url, content=content, headers=headers, extensions=extensions
                ) as response:
                    await _read_a_little(response)
        except DestinationRefused as exc:
            return _refused(exc.kind)
        except DestinationUnresolved:
            return _retry("UnresolvedHost")
        except (TimeoutError, httpx.TimeoutException):
            return _retry("Timeout")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return _refused(type(exc).__name__)
        except Exception as exc:  # connection refused, reset, TLS, protocol errors: all transient for us
            return _retry(type(exc).__name__)
        status = response.status_code
        if 200 <= status < 300:
            return _DELIVERED
        if status >= 500 or status in _RETRYABLE_STATUSES:
            return _retry(f"HTTP {status}")
        return _refused(f"HTTP {status}")


async def _read_a_little(response: httpx.Response) -> None:
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > _MAX_RESPONSE_BYTES:
            return


def callback_client(policy: CallbackPolicy) -> httpx.AsyncClient:
    """The one client a worker POSTs every callback with: pooled connections, no redirects followed."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(policy.timeout_seconds),
        limits=httpx.Limits(max_connections=policy.concurrency, max_keepalive_connections=policy.concurrency),
        follow_redirects=False,
        headers={"User-Agent": "notify-callbacks"},
    )
