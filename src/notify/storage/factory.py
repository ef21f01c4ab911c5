"""Pick an object store by URL: ``memory://``, ``file://<dir>`` or ``s3://<bucket>[/<prefix>]``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from obstore.store import LocalStore, MemoryStore, S3Store

from notify.storage.store import ObjectStore

if TYPE_CHECKING:
    from obstore.store import ClientConfig, S3Config

__all__ = ["SUPPORTED_SCHEMES", "open_store"]

SUPPORTED_SCHEMES = ("memory://", "file://", "s3://")


def open_store(
    url: str,
    *,
    endpoint: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    allow_http: bool = False,
) -> ObjectStore:
    """Open the store ``url`` names.

    - ``memory://``: a new, empty in-memory store (each call gets its own).
    - ``file:///abs/dir`` or ``file://./rel/dir``: files under that directory, created if
      missing; a relative path is resolved against the current directory now.
    - ``s3://bucket[/prefix]``: an S3 bucket (AWS, MinIO, Ceph, R2, moto). Arguments left as
      ``None`` fall back to the standard ``AWS_*`` environment variables. An ``http://``
      endpoint needs ``allow_http=True``.

    The connection arguments apply to ``s3://`` only.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in {"memory", "file", "s3"}:
        raise ValueError(
            f"unsupported object store URL {url!r}: "
            f"expected one of {', '.join(SUPPORTED_SCHEMES)} (e.g. file://./.notify/objects)"
        )
    if scheme == "memory":
        if rest.strip("/"):
            raise ValueError(f"memory:// takes no path, got {url!r}")
        return ObjectStore(MemoryStore())
    if scheme == "file":
        return ObjectStore(_local_store(url, rest))
    return ObjectStore(
        _s3_store(
            url,
            rest,
            endpoint=endpoint,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            allow_http=allow_http,
        )
    )


def _local_store(url: str, rest: str) -> LocalStore:
    if not rest:
        raise ValueError(f"file:// URL needs a directory, got {url!r}")
    root = Path(rest).expanduser().resolve()  # file:///abs -> "/abs"; file://./rel -> "./rel"
    root.mkdir(parents=True, exist_ok=True)
    return LocalStore(root, mkdir=True)


def _s3_store(
    url: str,
    rest: str,
    *,
    endpoint: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    allow_http: bool,
) -> S3Store:
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError(f"s3:// URL needs a bucket, got {url!r}")
    if endpoint is not None and endpoint.startswith("http://") and not allow_http:
        raise ValueError(f"endpoint {endpoint!r} is plain HTTP; pass allow_http=True to use it")
    config: S3Config = {}
    if endpoint is not None:
        config["endpoint"] = endpoint
    if region is not None:
        config["region"] = region
    if access_key_id is not None:
        config["access_key_id"] = access_key_id
    if secret_access_key is not None:
        config["secret_access_key"] = secret_access_key
    # Leave client options unset otherwise, so AWS_ALLOW_HTTP in the environment still applies.
    client_options: ClientConfig | None = {"allow_http": True} if allow_http else None
    return S3Store(
        bucket,
        prefix=prefix.strip("/") or None,
        config=config,
        client_options=client_options,
    )
