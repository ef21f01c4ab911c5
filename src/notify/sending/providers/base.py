"""The provider boundary: what sending needs from an SMS or email provider, and nothing more.

Implementations translate their own exceptions into ProviderError subclasses here, so the
sending code decides retry vs failure without knowing which provider it talks to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from notify.statuses import Status


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str  # E.164
    body: str
    sender: str | None
    reference: str  # our notification id, echoed back by providers that support it


@dataclass(frozen=True, slots=True)
class EmailMessage:
    to: str
    subject: str
    body: str
    from_address: str
    reply_to: str | None
    reference: str


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_reference: str
    # A provider that already knows the outcome (the simulated one) says so; real providers report
    # it later through delivery receipts.
    final_status: Status | None = None
    response: str | None = None


class ProviderError(Exception):
    """Base of provider failures; the message never contains the recipient."""


class ProviderThrottled(ProviderError):
    """Transient: retry later with backoff."""


class PermanentProviderError(ProviderError):
    """The provider will never deliver this message (invalid number, opted out)."""


class SmsProvider(Protocol):
    name: str

    async def send_sms(self, message: SmsMessage) -> SendResult: ...


class EmailProvider(Protocol):
    name: str

    async def send_email(self, message: EmailMessage) -> SendResult: ...
