"""The S3 lifecycle configuration: a backstop that expires objects even if the nightly run stops.

The nightly run deletes objects precisely (by each service's retention); these rules only catch
what it missed:

- ``uploads/`` after 12 days: the longest retention (7 days), plus the longest a scheduled job may
  wait before it starts (96 hours), plus one day of safety;
- ``exports/`` after 2 days: S3 counts whole days, rounding up, so 24 hours becomes 2 days;
- incomplete multipart uploads (an export or upload cut short) are aborted after 1 day.

S3 rules match key prefixes in the bucket, so a store URL with a prefix (``s3://bucket/notify``)
gets rules for ``notify/uploads/`` and ``notify/exports/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notify.storage import EXPORTS_PREFIX, UPLOADS_PREFIX

__all__ = ["LifecycleError", "S3Location", "apply_lifecycle", "lifecycle_configuration", "s3_location"]

UPLOADS_EXPIRE_DAYS = 12
EXPORTS_EXPIRE_DAYS = 2
ABORT_MULTIPART_DAYS = 1
RULE_ID_PREFIX = "notify-"


class LifecycleError(Exception):
    """The lifecycle cannot be applied to this store; the message says why."""


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ending with "/"


def s3_location(storage_url: str) -> S3Location:
    """The bucket and key prefix of an ``s3://bucket[/prefix]`` store URL."""
    scheme, sep, rest = storage_url.partition("://")
    if scheme != "s3" or not sep:
        raise LifecycleError(
            f"lifecycle rules apply to S3 only; NOTIFY_STORAGE_URL is {scheme or storage_url}:// "
            "(set it to s3://<bucket> or s3://<bucket>/<prefix>)"
        )
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise LifecycleError(f"NOTIFY_STORAGE_URL {storage_url!r} names no bucket")
    prefix = prefix.strip("/")
    return S3Location(bucket, f"{prefix}/" if prefix else "")


def lifecycle_configuration(
    prefix: str = "",
    *,
    uploads_days: int = UPLOADS_EXPIRE_DAYS,
    exports_days: int = EXPORTS_EXPIRE_DAYS,
    abort_multipart_days: int = ABORT_MULTIPART_DAYS,
) -> dict[str, Any]:
    """The ``LifecycleConfiguration`` document for ``put_bucket_lifecycle_configuration``."""
    return {
        "Rules": [
            {
                "ID": "notify-expire-uploads",
                "Filter": {"Prefix": f"{prefix}{UPLOADS_PREFIX}"},
                "Status": "Enabled",
                "Expiration": {"Days": uploads_days},
            },
            {
                "ID": "notify-expire-exports",
                "Filter": {"Prefix": f"{prefix}{EXPORTS_PREFIX}"},
                "Status": "Enabled",
                "Expiration": {"Days": exports_days},
            },
            {
                "ID": "notify-abort-incomplete-multipart",
                "Filter": {"Prefix": prefix},
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": abort_multipart_days},
            },
        ]
    }


def apply_lifecycle(
    location: S3Location,
    configuration: dict[str, Any],
    *,
    endpoint: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> None:
    """Put ``configuration``'s rules on the bucket, keeping any rules of its own that are not Notify's.

    Arguments left as ``None`` fall back to the standard ``AWS_*`` environment variables.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
    )
    try:
        try:
            existing = client.get_bucket_lifecycle_configuration(Bucket=location.bucket).get("Rules", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                raise
            existing = []
        ours = {rule["ID"] for rule in configuration["Rules"]}
        kept = [rule for rule in existing if not rule.get("ID", "").startswith(RULE_ID_PREFIX) and rule.get("ID") not in ours]
        client.put_bucket_lifecycle_configuration(
            Bucket=location.bucket, LifecycleConfiguration={"Rules": kept + configuration["Rules"]}
        )
    except (BotoCoreError, ClientError) as exc:
        raise LifecycleError(f"could not put the lifecycle on bucket {location.bucket!r}: {exc}") from exc
    finally:
        client.close()
