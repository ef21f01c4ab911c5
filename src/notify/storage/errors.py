"""Errors raised by the object-storage boundary, and the one place obstore's are translated.

    StorageError
     ├── ObjectNotFound      the key holds no object
     └── StorageUnavailable  a transient failure: the store was unreachable, timed out
                             or answered 5xx. Worth retrying; nothing else in this tree is.

Object keys are not PII (``uploads/<service_uuid>/<job_uuid>.csv``), so messages carry them.
Every translated error keeps obstore's exception as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from obstore import exceptions as obstore_exceptions

__all__ = ["ObjectNotFound", "StorageError", "StorageUnavailable", "translate_errors"]


class StorageError(Exception):
    """An object-store operation failed."""


class ObjectNotFound(StorageError):
    """No object is stored at ``key``."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no object at {key!r}")
        self.key = key


class StorageUnavailable(StorageError):
    """The store failed in a way that is expected to pass: connection, timeout or 5xx."""


# obstore reports transport failures as GenericError; these fragments of its message mark the
# ones known to be transient. Anything else stays a plain StorageError, so callers never retry a
# bad range or a rejected credential.
_TRANSIENT_MARKERS = (
    "error sending request",
    "connection",
    "timed out",
    "timeout",
    "non-2xx status code: 5",
    "slowdown",
    "service unavailable",
)
_MAX_DETAIL = 300


@contextmanager
def translate_errors(operation: str, key: str) -> Iterator[None]:
    """Re-raise obstore's exceptions (and local OS errors) as :class:`StorageError` subclasses.

    ``ValueError`` from obstore (a malformed key such as ``a//b``, an empty range) is a bug in
    the caller and is left alone.
    """
    try:
        yield
    except (FileNotFoundError, obstore_exceptions.NotFoundError) as exc:
        if "NoSuchBucket" in str(exc):
            # S3 answers 404 for a missing bucket too; that is misconfiguration, not a missing
            # object, and must not read as "already deleted".
            raise StorageError(f"{operation} {key!r} failed: the bucket does not exist") from exc
        raise ObjectNotFound(key) from exc
    except (obstore_exceptions.BaseError, OSError) as exc:
        detail = _first_line(exc)
        message = f"{operation} {key!r} failed: {detail}"
        if isinstance(exc, obstore_exceptions.GenericError) and _is_transient(detail):
            raise StorageUnavailable(message) from exc
        raise StorageError(message) from exc


def _first_line(exc: BaseException) -> str:
    # obstore appends a multi-line debug dump (and S3's XML body) after the first line.
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[0][:_MAX_DETAIL]


def _is_transient(detail: str) -> bool:
    lowered = detail.lower()
    return any(marker in lowered for marker in _TRANSIENT_MARKERS)
