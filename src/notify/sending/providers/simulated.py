"""The simulated provider: the default in development and tests, and the fake that ships with the code.

It decides each message's outcome from the well-known test recipients that GOV.UK Notify and
Notify.gov document, so teams can exercise failures without a real carrier.  The receipt for
that outcome arrives later through the normal receipt path, after the configured delay.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from notify.recipients.phone import is_international
from notify.sending.providers.base import EmailMessage, SendResult, SmsMessage
from notify.statuses import Status

# Recipients whose outcome is fixed (E.164 / lower-cased email); everyone else is delivered.
SIMULATED_OUTCOMES: dict[str, Status] = {
    "+447700900002": Status.permanent_failure,
    "+14254147222": Status.permanent_failure,
    "perm-fail@simulator.notify": Status.permanent_failure,
    "+447700900003": Status.temporary_failure,
    "+14254147111": Status.temporary_failure,
    "temp-fail@simulator.notify": Status.temporary_failure,
    "+447700900004": Status.technical_failure,
    "+14254147333": Status.technical_failure,
    "tech-fail@simulator.notify": Status.technical_failure,
}


def simulated_outcome(recipient: str, *, international: bool = False) -> Status:
    """International SMS end 'sent', as on GOV.UK Notify: carriers abroad rarely send receipts back."""
    return SIMULATED_OUTCOMES.get(recipient.lower(), Status.sent if international else Status.delivered)


@dataclass
class SimulatedProvider:
    """Both an SMS and an email provider.

    ``record`` keeps the last ``record_limit`` messages so tests can assert on what was sent;
    it is off outside tests because the recording holds recipients in memory.
    """

    latency_seconds: float = 0.0
    record: bool = False
    record_limit: int = 100_000
    name: str = "simulated"
    sent: deque[SmsMessage | EmailMessage] = field(default_factory=deque)
    send_log: Path | None = None  # tests: one line per accepted message, its reference only
    default_region: str = "US"  # numbers outside it are international

    def _log(self, reference: str) -> None:
        if self.send_log is not None:
            # O_APPEND writes of one short line are atomic, so several worker processes can share it.
            with self.send_log.open("a") as log:
                log.write(reference + "\n")

    async def send_sms(self, message: SmsMessage) -> SendResult:
        await self._wait()
        self._record(message)
        self._log(message.reference)
        outcome = simulated_outcome(message.to, international=is_international(message.to, self.default_region))
        return SendResult(provider_reference=f"sim-{uuid.uuid4()}", final_status=outcome)

    async def send_email(self, message: EmailMessage) -> SendResult:
        await self._wait()
        self._record(message)
        self._log(message.reference)
        return SendResult(provider_reference=f"sim-{uuid.uuid4()}", final_status=simulated_outcome(message.to))

    async def _wait(self) -> None:
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)

    def _record(self, message: SmsMessage | EmailMessage) -> None:
        if self.record:
            self.sent.append(message)
            while len(self.sent) > self.record_limit:
                self.sent.popleft()
