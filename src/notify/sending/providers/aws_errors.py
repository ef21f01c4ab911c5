"""Translate botocore's exceptions into the provider error tree (notify.sending.providers.base).

This is the one place that decides, for every AWS provider, whether a failed call is throttling,
a recipient the provider will never reach, our own misconfiguration, a request whose fate is
unknown, or something unrecognised.  Each provider adds a small classifier for the error codes
only it has (``classify``); the generic rules below cover the rest.

AWS error *messages* often repeat the phone number or address ("Invalid parameter: PhoneNumber
Reason: +1202... is not valid"), so they are read here, in memory, to tell cases apart and are
then dropped: the errors we raise carry a fixed reason and the error code, and the providers raise
them outside their ``except`` block, so the original is neither their cause nor their context and
no traceback or error reporter can print it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from notify.sending.providers.base import (
    ProviderError,
    ProviderInDoubt,
    ProviderSetupError,
    ProviderThrottled,
)

# botocore's own list of throttling codes (botocore.retries.standard), plus SNS's KMS variant.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "KMSThrottling",
        "KMSThrottlingException",
    }
)

# Our credentials, permissions or account state: the same request will fail again.
SETUP_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "OptInRequired",
        "InvalidSecurity",
        "KMSAccessDenied",
        "KMSDisabled",
        "KMSInvalidState",
        "KMSNotFound",
        "KMSOptInRequired",
    }
)

_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class AwsErrorDetail:
    """What an AWS error response said.  ``message`` may echo the recipient: never store or log it."""

    code: str
    status: int
    message: str
    reason: str | None  # End User Messaging's machine-readable Reason
    fields: frozenset[str]  # names of the request fields a ValidationException points at


# A provider's own rules: return the error to raise, or None to fall back to the generic rules.
Classifier = Callable[[AwsErrorDetail], ProviderError | None]


def translate_aws_error(exc: Exception, classify: Classifier | None = None) -> ProviderError:
    """The ProviderError to raise for a botocore exception (other exceptions are not ours to map)."""
    if isinstance(exc, ClientError):
        detail = _detail(exc)
        specific = classify(detail) if classify is not None else None
        return specific if specific is not None else _generic(detail)
    name = type(exc).__name__
    # The request was written and no valid answer came back: the provider may have the message.
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)):
        return ProviderInDoubt(code=name)
    # The connection never opened (refused, DNS, connect timeout, TLS handshake): nothing was sent.
    if isinstance(exc, BotoConnectionError):
        return ProviderError("Could not reach provider", code=name)
    if isinstance(exc, HTTPClientError):
        return ProviderInDoubt(code=name)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, NoRegionError)):
        return ProviderSetupError("Provider credentials or region missing", code=name)
    if isinstance(exc, ParamValidationError):
        # botocore refused the request before sending it; its text can include our values.
        return ProviderSetupError("Request refused before sending", code=name)
    if isinstance(exc, BotoCoreError):
        return ProviderError(code=name)
    raise TypeError(f"not a botocore exception: {name}")


def _generic(detail: AwsErrorDetail) -> ProviderError:
    if detail.code in THROTTLING_CODES or detail.status == 429:
        return ProviderThrottled(code=detail.code)
    if detail.code in SETUP_CODES or detail.status in (401, 403):
        return ProviderSetupError(code=detail.code)
    if detail.status >= 500:
        return ProviderError("Provider unavailable", code=detail.code)
    return ProviderError(code=detail.code)


def _detail(exc: ClientError) -> AwsErrorDetail:
    response = exc.response
    error = response.get("Error", {})
    raw_code = str(error.get("Code") or "")
    code = raw_code if _CODE_SHAPE.match(raw_code) else "Unknown"
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    fields = response.get("Fields") or error.get("Fields") or []
    raw_reason = str(response.get("Reason") or error.get("Reason") or "")
    return AwsErrorDetail(
        code=code,
        status=status,
        message=str(error.get("Message") or response.get("message") or ""),
        reason=raw_reason if _CODE_SHAPE.match(raw_reason) else None,
        fields=frozenset(str(f.get("Name")) for f in fields if isinstance(f, dict)),
    )
