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
    """A send the provider did not accept, for a reason we do not recognise: retried a few times.

    The tree, and what sending does with each (notify.sending.provider_retry)::

        ProviderError               unknown or transient: retried up to provider_max_attempts
        ├── ProviderThrottled       slow down: retried with backoff for up to provider_throttle_max_wait_seconds
        ├── PermanentProviderError  this recipient can never get it: permanent-failure, not retried
        ├── ProviderSetupError      our account or settings are wrong: technical-failure, not retried
        └── ProviderInDoubt         the provider may have accepted it: technical-failure, never resent

    ``reason`` is a short fixed phrase that is stored as the notification's provider_response and
    ``code`` the provider's error code (an identifier such as ``Throttling``).  Neither may carry
    the provider's own error message, which can echo the recipient, so implementations drop the
    original exception (not even chained as the cause: see notify.sending.providers.aws_errors).
    """

    default_reason = "Provider error"

    def __init__(self, reason: str | None = None, *, code: str | None = None) -> None:
        self.reason = reason or self.default_reason
        self.code = code
        super().__init__(self.reason if code is None else f"{self.reason} ({code})")


class ProviderThrottled(ProviderError):
    """Transient: the provider asked us to slow down; retry later with backoff."""

    default_reason = "Throttled by provider"


class PermanentProviderError(ProviderError):
    """The provider will never deliver this message (invalid number, opted out)."""

    default_reason = "Rejected by provider"


class ProviderSetupError(ProviderError):
    """Our credentials, account or settings are wrong; retrying the same request cannot help."""

    default_reason = "Provider refused our account or settings"


class ProviderInDoubt(ProviderError):
    """The request left us but no answer came back: the provider may have accepted it.

    Never retried, because a second request could deliver the message twice.
    """

    default_reason = "No answer from provider; not resent"


class SmsProvider(Protocol):
    name: str

    async def send_sms(self, message: SmsMessage) -> SendResult: ...


class EmailProvider(Protocol):
    name: str

    async def send_email(self, message: EmailMessage) -> SendResult: ...
