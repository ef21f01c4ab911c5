"""How one message is retried when its provider does not accept it.

Two budgets, because the two kinds of failure mean different things:

- **Throttling** says "you are fast, not wrong": the message is retried with exponential backoff
  and jitter for as long as ``throttle_max_wait`` allows (a time budget, since a busy provider may
  refuse many times in a row and still take the message a few seconds later).
- **Anything unknown** (an error code we do not recognise, a 5xx, a connection that never
  opened) may be a bug or a lasting outage, so it gets a fixed number of attempts.

Everything else is final at once (see the tree in ``notify.sending.providers.base``).  In
particular a request that reached the provider but got no answer (a read timeout) is never
retried: the provider may have accepted it, and the project's rule is never to send twice.  An
explicit error response, 5xx included, is the provider saying it did not take the message, which
is why those are safe to retry (AWS SDKs retry them by default for the same reason).

The caller's concurrency slot is held only while a request is in flight, never during a backoff,
so a throttled message does not hold back the rest of its chunk.

No retry library is used: the policy is two budgets on one call plus a slot released between
attempts, about twenty lines that read more plainly than two nested retry contexts would.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from notify.sending.providers.base import (
    PermanentProviderError,
    ProviderError,
    ProviderInDoubt,
    ProviderSetupError,
    ProviderThrottled,
    SendResult,
)

# Awaited after each backoff, just before the retry, with the error, the retry's number (1 = first
# retry) and the delay waited; a sender rate limit takes its token here.
OnRetry = Callable[[ProviderError, int, float], Awaitable[None]]

_FINAL = (PermanentProviderError, ProviderSetupError, ProviderInDoubt)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    throttle_max_wait: float = 30.0
    backoff_initial: float = 0.2
    backoff_max: float = 5.0

    def backoff(self, retry: int) -> float:
        """Delay before retry number ``retry`` (0-based): exponential, capped, with "equal jitter".

        Half of each delay is fixed and half random, so messages throttled together spread out
        instead of coming back in one burst, yet every delay still grows.
        """
        ceiling = min(self.backoff_max, self.backoff_initial * 2**retry)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


async def send_with_retries(
    send: Callable[[], Awaitable[SendResult]],
    policy: RetryPolicy,
    *,
    slot: asyncio.Semaphore,
    rest: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: OnRetry | None = None,
) -> SendResult:
    """Send, retrying as the policy allows; raise the last ProviderError once it gives up.

    ``rest`` is how a backoff is waited out (notify.sending.in_flight marks the message idle meanwhile).
    """
    loop = asyncio.get_running_loop()
    failures = throttles = 0
    throttled_since: float | None = None
    while True:
        async with slot:
            try:
                return await send()
            except _FINAL:
                raise
            except ProviderError as exc:
                error = exc
        if isinstance(error, ProviderThrottled):
            now = loop.time()
            throttled_since = now if throttled_since is None else throttled_since
            delay = policy.backoff(throttles)
            if now - throttled_since + delay > policy.throttle_max_wait:
                raise error
            throttles += 1
        else:
            failures += 1
            if failures >= policy.max_attempts:
                raise error
            delay = policy.backoff(failures - 1)
        await rest(delay)
        if on_retry is not None:
            await on_retry(error, failures + throttles, delay)
