"""boto3 clients for the AWS providers, and the thread pool their blocking calls run on.

boto3 is synchronous.  Each call runs on a pool sized for the process's send concurrency, so the
event loop never waits on HTTP and at most that many requests are in flight at once; botocore
clients are thread-safe, and each keeps that many pooled connections.

botocore's own retries are switched off (one attempt per call): the sending code's policy
(notify.sending.provider_retry) is the only one in force, so a throttled message waits without
holding a thread, and a request that timed out after it was sent is never silently resent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from notify.sending.providers.aws_errors import Classifier, translate_aws_error
from notify.sending.providers.base import SendResult


@dataclass(frozen=True, slots=True)
class AwsOptions:
    region: str | None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_connections: int = 32


class AwsCalls:
    """Runs blocking boto3 calls on a dedicated pool; one per process, shared by every AWS provider."""

    def __init__(self, max_workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="notify-aws")

    async def run(self, call: Callable[..., Any], /, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(call, **kwargs))

    async def send(self, call: Callable[..., Any], classify: Classifier, /, **kwargs: Any) -> SendResult:
        """One provider send: its MessageId is our reference; any failure becomes a ProviderError.

        The error is raised outside the except block, so the original (whose message may quote
        the recipient) is neither its cause nor its context.
        """
        try:
            response = await self.run(call, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            error = translate_aws_error(exc, classify)
        else:
            return SendResult(provider_reference=response["MessageId"])
        raise error

    def close(self) -> None:
        # Calls still running finish on their threads; their results are no longer awaited, and
        # their rows stay claimed without a reference, which the next run resolves as in doubt.
        self._executor.shutdown(wait=False, cancel_futures=True)


def aws_client(service: str, options: AwsOptions, endpoint_url: str | None = None) -> Any:
    """A boto3 client with our timeouts and pool size, and botocore's retries off."""
    config = Config(
        region_name=options.region,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        max_pool_connections=options.max_connections,
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    # A session per client: boto3's default session is module state shared across threads.
    session = boto3.session.Session(
        aws_access_key_id=options.access_key_id,
        aws_secret_access_key=options.secret_access_key,
        region_name=options.region,
    )
    return session.client(service, endpoint_url=endpoint_url, config=config)
