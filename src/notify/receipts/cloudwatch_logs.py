"""The CloudWatch Logs boundary: FilterLogEvents over one time window, with errors translated.

boto3 is synchronous, so every call runs in a thread and the worker's event loop keeps serving
other tasks.  botocore's own errors never leave this module: callers see CloudWatchUnavailable
(retry next round) or LogGroupNotFound (SNS creates a group only when it first logs to it).
Neither carries a log event's content.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from notify.config import Settings

# FilterLogEvents returns at most 10,000 events a page.
PAGE_LIMIT = 10_000


class CloudWatchError(Exception):
    """Reading CloudWatch Logs failed; ``code`` is AWS's error code or botocore's error class."""

    def __init__(self, code: str, log_group: str) -> None:
        super().__init__(f"{code} reading {log_group}")
        self.code = code
        self.log_group = log_group


class CloudWatchUnavailable(CloudWatchError):
    """Throttled, unreachable, denied or misconfigured: nothing was read, try again next round."""


class LogGroupNotFound(CloudWatchError):
    """The log group does not exist (yet): SNS creates it when it logs its first event there."""


def logs_client(settings: Settings) -> Any:  # noqa: ANN401 - boto3 clients are untyped
    """A CloudWatch Logs client from settings; credentials default to the AWS chain (role, env).

    botocore's standard retry mode backs off on throttling within a call; the poller's next
    round is the slower back-off beyond that.
    """
    session = boto3.session.Session()  # a session per client: the default session is not thread-safe
    return session.client(
        "logs",
        region_name=settings.cloudwatch_region,
        endpoint_url=settings.cloudwatch_endpoint_url,
        aws_access_key_id=settings.cloudwatch_access_key_id,
        aws_secret_access_key=settings.cloudwatch_secret_access_key,
        config=Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=10, read_timeout=60),
    )


class LogWindowReader:
    """Reads every event of a log group in an inclusive [start_ms, end_ms] window, page by page.

    Give it a client, or a factory that builds one on first use (in a thread: building a boto3
    client reads its service model from disk, and a missing region fails only then).
    """

    def __init__(
        self,
        client: Any = None,  # noqa: ANN401 - boto3 clients are untyped
        *,
        client_factory: Callable[[], Any] | None = None,
        page_limit: int = PAGE_LIMIT,
    ) -> None:
        if (client is None) == (client_factory is None):
            raise ValueError("pass a client or a client_factory")
        self._client = client
        self._client_factory = client_factory
        self._page_limit = page_limit

    @classmethod
    def from_settings(cls, settings: Settings) -> LogWindowReader:
        return cls(client_factory=lambda: logs_client(settings))

    async def pages(self, log_group: str, start_ms: int, end_ms: int) -> AsyncIterator[list[str]]:
        """Each page's event messages; raises CloudWatchError, having yielded only whole pages."""
        token: str | None = None
        while True:
            request: dict[str, Any] = {
                "logGroupName": log_group,
                "startTime": start_ms,
                "endTime": end_ms,
                "limit": self._page_limit,
            }
            if token:
                request["nextToken"] = token
            response = await self._call(log_group, request)
            yield [event["message"] for event in response.get("events", ()) if isinstance(event.get("message"), str)]
            next_token = response.get("nextToken")
            if not next_token or next_token == token:
                return
            token = next_token

    async def _call(self, log_group: str, request: dict[str, Any]) -> dict[str, Any]:
        try:
            if self._client is None:
                assert self._client_factory is not None
                self._client = await asyncio.to_thread(self._client_factory)
            return await asyncio.to_thread(self._client.filter_log_events, **request)  # type: ignore[no-any-return]
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "ClientError")
            if code == "ResourceNotFoundException":
                raise LogGroupNotFound(code, log_group) from exc
            raise CloudWatchUnavailable(code, log_group) from exc
        except BotoCoreError as exc:
            raise CloudWatchUnavailable(type(exc).__name__, log_group) from exc

    def close(self) -> None:
        """Close the client's connections, if this reader built it (a given client is the caller's)."""
        if self._client is not None and self._client_factory is not None:
            self._client.close()
            self._client = None
