"""The SNS receipts webhook: authenticate a delivery, then apply, confirm or acknowledge it.

Checks, cheapest first, each refusing with fixed wording and logging no content:
1. the body is an SNS message of a known type with the fields its type signs (else 400);
2. it is signed, from an allowed topic, and its Timestamp is within the replay window (else 403);
3. its signature verifies against the certificate at its SigningCertURL, an https URL on an SNS
   host (else 403; 503 if AWS cannot be reached, so SNS retries);
4. its MessageId was not accepted before (else 409).

Replays: SNS retries a delivery only when we did not answer 2xx, and we answer 2xx only after the
transaction that records the message id has committed; so a retry always finds its id unrecorded,
and a message id that *is* recorded means a copy was already applied. That copy is answered 409
and changes nothing. (Should our 2xx be lost on the way back, SNS's retry gets the 409: harmless,
as the receipt is already applied.)

A notification's receipts go through the per-process ReceiptBatcher; a SubscriptionConfirmation
is confirmed by one GET of its SubscribeURL inside the transaction that records its id, so it is
confirmed exactly once; an UnsubscribeConfirmation is logged and acknowledged.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.config import Environment, Settings
from notify.log_config import get_logger
from notify.receipts.batcher import ReceiptBatcher
from notify.receipts.sns_events import parse_sns_event
from notify.receipts.sns_seen import mark_seen
from notify.receipts.sns_signature import (
    SigningCertificates,
    SnsMessageInvalid,
    SnsMessageUnauthentic,
    SnsRejected,
    SnsUnavailable,
    check_sns_url,
    verify_signature,
)

logger = get_logger(__name__)

MAX_BODY_BYTES = 512 * 1024  # SNS messages are at most 256 KB; room for the envelope and escaping
MAX_MESSAGE_ID_LENGTH = 255

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
_REQUIRED: dict[str, tuple[str, ...]] = {
    NOTIFICATION: ("MessageId", "TopicArn", "Timestamp", "Message", "SigningCertURL"),
    SUBSCRIPTION_CONFIRMATION: ("MessageId", "TopicArn", "Timestamp", "Message", "SigningCertURL", "SubscribeURL", "Token"),
    UNSUBSCRIBE_CONFIRMATION: ("MessageId", "TopicArn", "Timestamp", "Message", "SigningCertURL", "SubscribeURL", "Token"),
}


class SnsMessageReplayed(SnsRejected):
    """A copy of this message id was already accepted."""


def open_sns_client(settings: Settings) -> httpx.AsyncClient:
    """The client for certificates and subscription confirmations: verified TLS, short timeouts, no redirects.

    ``sns_ca_bundle`` replaces the system trust store (tests serve from their own CA); redirects
    are refused because only the URL itself was checked against the SNS host pattern.
    """
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=str(settings.sns_ca_bundle)) if settings.sns_ca_bundle else True
    )
    return httpx.AsyncClient(verify=verify, timeout=settings.sns_fetch_timeout_seconds, follow_redirects=False)


class SnsWebhook:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        batcher: ReceiptBatcher,
        client: httpx.AsyncClient,
        host_pattern: str,
        topic_arns: Sequence[str],
        require_topic_arns: bool,
        max_age: timedelta,
        clock_skew: timedelta,
    ) -> None:
        self._engine = engine
        self._batcher = batcher
        self._client = client
        self._host_pattern = re.compile(host_pattern)
        self._certificates = SigningCertificates(client, self._host_pattern)
        self._topic_arns = tuple(topic_arns)
        self._require_topic_arns = require_topic_arns
        self._max_age = max_age
        self._clock_skew = clock_skew

    @classmethod
    def for_settings(cls, settings: Settings, engine: AsyncEngine, batcher: ReceiptBatcher) -> SnsWebhook:
        return cls(
            engine=engine,
            batcher=batcher,
            client=open_sns_client(settings),
            host_pattern=settings.sns_host_pattern,
            topic_arns=settings.sns_topic_arns,
            require_topic_arns=settings.environment == Environment.production,
            max_age=timedelta(seconds=settings.sns_max_age_seconds),
            clock_skew=timedelta(seconds=settings.sns_clock_skew_seconds),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def receive(self, body: bytes) -> str:
        """Handle one delivery; returns what was done ("applied", "confirmed", ...) or raises SnsRejected."""
        message_type: str | None = None
        try:
            message = _parse(body)
            message_type = message["Type"]
            await self._authenticate(message)
            if message_type == NOTIFICATION:
                return await self._notification(message)
            if message_type == SUBSCRIPTION_CONFIRMATION:
                return await self._confirm_subscription(message)
            logger.info("SNS unsubscribe confirmation received", action="sns.unsubscribed",
                        topic_arn=message["TopicArn"], message_id=message["MessageId"])
            return "unsubscribed"
        except SnsRejected as exc:
            # Fixed wording and the type only: the message itself may hold a recipient.
            logger.warning("SNS message rejected", action="sns.rejected", reason=str(exc),
                           rejection=type(exc).__name__, message_type=message_type)
            raise

    async def _authenticate(self, message: dict[str, Any]) -> None:
        if not self._topic_allowed(message["TopicArn"]):
            raise SnsMessageUnauthentic("the SNS topic is not allowed")
        sent_at = _timestamp(message["Timestamp"])
        now = datetime.now(UTC)
        if sent_at < now - self._max_age:
            raise SnsMessageUnauthentic("the SNS message is too old")
        if sent_at > now + self._clock_skew:
            raise SnsMessageUnauthentic("the SNS message timestamp is in the future")
        certificate = await self._certificates.get(message["SigningCertURL"])
        verify_signature(message, certificate)

    def _topic_allowed(self, topic_arn: str) -> bool:
        if not self._topic_arns:
            return not self._require_topic_arns
        return any(fnmatchcase(topic_arn, pattern) for pattern in self._topic_arns)

    async def _notification(self, message: dict[str, Any]) -> str:
        event = parse_sns_event(message["Message"])
        applied = await self._batcher.submit(message["MessageId"], event.receipts)
        if not applied:
            raise SnsMessageReplayed("the SNS message was already received")
        # Receipts flow at volume (debug); an unknown event shape is rare and worth an operator's look.
        log = logger.debug if event.recognised else logger.info
        log("SNS notification applied", action="sns.notification", kind=event.kind, receipts=len(event.receipts),
            topic_arn=message["TopicArn"], message_id=message["MessageId"])
        return "applied" if event.receipts else "ignored"

    async def _confirm_subscription(self, message: dict[str, Any]) -> str:
        url = message["SubscribeURL"]
        check_sns_url(url, self._host_pattern)
        # The id is recorded in the transaction that confirms, so a copy waits for it and is refused.
        async with self._engine.begin() as conn:
            if not await mark_seen(conn, [message["MessageId"]]):
                raise SnsMessageReplayed("the SNS message was already received")
            try:
                response = await self._client.get(url)
            except httpx.HTTPError as exc:
                raise SnsUnavailable("the SNS subscription could not be confirmed") from exc
            if response.status_code != 200:
                raise SnsUnavailable("the SNS subscription could not be confirmed")
        logger.info("SNS subscription confirmed", action="sns.subscribed", topic_arn=message["TopicArn"])
        return "confirmed"


def _parse(body: bytes) -> dict[str, Any]:
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SnsMessageInvalid("the body is not an SNS message (invalid JSON)") from None
    if not isinstance(message, dict):
        raise SnsMessageInvalid("the body is not an SNS message")
    message_type = message.get("Type")
    if message_type not in _REQUIRED:
        raise SnsMessageInvalid("the SNS message type is not supported")
    for name in _REQUIRED[message_type]:
        if not isinstance(message.get(name), str) or not message[name]:
            raise SnsMessageInvalid(f"the SNS message has no {name}")
    if "Subject" in message and not isinstance(message["Subject"], str | None):
        raise SnsMessageInvalid("the SNS message Subject is not a string")
    if len(message["MessageId"]) > MAX_MESSAGE_ID_LENGTH:
        raise SnsMessageInvalid("the SNS MessageId is too long")
    if not message.get("Signature"):
        raise SnsMessageUnauthentic("the SNS message is not signed")
    return message


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SnsMessageInvalid("the SNS message Timestamp is not a valid time") from None
    if parsed.tzinfo is None:
        raise SnsMessageInvalid("the SNS message Timestamp has no time zone")
    return parsed
