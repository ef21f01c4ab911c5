"""Where the PII audit looks, each read in a form it can match byte for byte.

- Tables are dumped with COPY (text form), then also unescaped (COPY escapes backslashes and
  control characters) and with every bytea value hex-decoded.
- The PostgreSQL server's own files: the server log and the WAL written since the test began
  (only that range, so the cost stays a few milliseconds per test; see ``ServerFiles``).
- S3 (moto): every object's key, content and metadata, and the parts of multipart uploads still
  in progress, which the S3 API lists but cannot read, so they are read from moto's backend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from notify.config import Settings

__all__ = ["S3Location", "ServerFiles", "decoded_dump", "s3_location", "table_dumps"]

_COPY_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)
_COPY_CONTROL = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
# A bytea value in COPY text form: its own ``\x`` with the backslash doubled by COPY.
_COPY_BYTEA = re.compile(rb"\\\\x((?:[0-9a-fA-F]{2})+)")


def table_dumps(conn: psycopg.Connection) -> Iterator[tuple[str, bytes]]:
    """Every base table of the database, the task queue's included, as decoded COPY output."""
    tables = conn.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    ).fetchall()
    for schema, table in tables:
        with conn.cursor().copy(f'COPY "{schema}"."{table}" TO STDOUT') as copy:
            dump = b"".join(bytes(block) for block in copy)
        yield f"table {schema}.{table}", decoded_dump(dump)


def decoded_dump(dump: bytes) -> bytes:
    """The COPY text as sent, then unescaped, then every bytea value in it decoded from hex."""
    if b"\\" not in dump:
        return dump
    parts = [dump, _COPY_ESCAPE.sub(_unescape, dump)]
    parts += [bytes.fromhex(match.group(1).decode()) for match in _COPY_BYTEA.finditer(dump)]
    return b"\n".join(parts)


def _unescape(match: re.Match[bytes]) -> bytes:
    octal, hexa, char = match.groups()
    if octal is not None:
        return bytes([int(octal, 8) & 0xFF])
    if hexa is not None:
        return bytes([int(hexa, 16)])
    return _COPY_CONTROL.get(char, char)


@dataclass(frozen=True)
class ServerFiles:
    """The server log and WAL of a PostgreSQL whose data directory this process can read.

    ``mark`` notes where both end when a test starts; ``written_since`` returns only what was
    appended after that. The WAL range is read straight from its segment files, between the two
    insert positions (``pg_current_wal_lsn``), so a test that writes 1 MB of WAL costs 1 MB of
    reading. An external server's files are out of reach, and then nothing is read.
    """

    data_directory: Path
    log_file: Path | None
    log_offset: int
    wal_start: int
    wal_segment_size: int
    timeline: int

    @classmethod
    def mark(cls, conn: psycopg.Connection) -> ServerFiles | None:
        row = conn.execute(
            "SELECT current_setting('data_directory'), pg_current_logfile(), pg_current_wal_lsn()::text, "
            "pg_walfile_name(pg_current_wal_lsn()), current_setting('wal_segment_size')"
        ).fetchone()
        assert row is not None
        data_dir, current_log, lsn, wal_file, segment = row
        data_directory = Path(data_dir)
        if not (data_directory / "pg_wal").is_dir():
            return None
        # pgserver starts the server with ``pg_ctl -l <data>/log``; a logging collector names its own file.
        log_file = data_directory / current_log if current_log else data_directory / "log"
        log_file = log_file if log_file.is_file() else None
        return cls(
            data_directory=data_directory,
            log_file=log_file,
            log_offset=log_file.stat().st_size if log_file else 0,
            wal_start=_lsn(lsn),
            wal_segment_size=_size(segment),
            timeline=int(wal_file[:8], 16),
        )

    def written_since(self, conn: psycopg.Connection) -> Iterator[tuple[str, bytes]]:
        if self.log_file is not None:
            with self.log_file.open("rb") as log:
                log.seek(self.log_offset)
                yield f"PostgreSQL server log {self.log_file}", log.read()
        (end,) = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone() or ("0/0",)
        yield f"PostgreSQL WAL {self.data_directory / 'pg_wal'}", self._wal(self.wal_start, _lsn(end))

    def _wal(self, start: int, end: int) -> bytes:
        chunks: list[bytes] = []
        position = start
        while position < end:
            segment, offset = divmod(position, self.wal_segment_size)
            length = min(end - position, self.wal_segment_size - offset)
            path = self.data_directory / "pg_wal" / self._segment_name(segment)
            if path.is_file():  # a recycled segment would have needed over max_wal_size of writes
                with path.open("rb") as wal:
                    wal.seek(offset)
                    chunks.append(wal.read(length))
            position += length
        return b"".join(chunks)

    def _segment_name(self, segment: int) -> str:
        per_id = 0x1_0000_0000 // self.wal_segment_size
        return f"{self.timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"


def _lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def _size(text: str) -> int:
    units = {"kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(text.removesuffix(unit)) * factor
    return int(text)


@dataclass(frozen=True)
class S3Location:
    """The bucket (and key prefix) a test's S3 store writes to, with the moto credentials."""

    endpoint: str
    bucket: str
    prefix: str
    region: str | None
    access_key_id: str | None
    secret_access_key: str | None

    def client(self):  # noqa: ANN201 - boto3 clients are untyped
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=self.region or "us-east-1",
            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key,
        )

    def objects(self, skip_content: Callable[[str], bool]) -> Iterator[tuple[str, datetime, bytes, bytes]]:
        """Yield (key without the prefix, last modified, content, metadata text) for every object.

        Objects whose content may hold recipients (``skip_content``) are only HEAD-ed, for metadata.
        """
        client = self.client()
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    key = item["Key"].removeprefix(self.prefix)
                    if skip_content(key):
                        got = client.head_object(Bucket=self.bucket, Key=item["Key"])
                        yield key, item["LastModified"], b"", _metadata_text(got)
                    else:
                        got = client.get_object(Bucket=self.bucket, Key=item["Key"])
                        yield key, item["LastModified"], got["Body"].read(), _metadata_text(got)
        finally:
            client.close()

    def multipart_parts(self) -> Iterator[tuple[str, bytes]]:
        """Yield (where, bytes) for every in-progress multipart upload: its key, metadata and parts."""
        client = self.client()
        try:
            uploads = client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix).get("Uploads", [])
        finally:
            client.close()
        in_moto = _moto_multiparts(self.bucket)
        for upload in uploads:
            where = f"multipart upload {upload['Key']} ({upload['UploadId'][:8]})"
            content = in_moto.get(upload["UploadId"], b"")
            yield where, upload["Key"].encode() + b"\n" + content


def _metadata_text(got: dict) -> bytes:  # type: ignore[type-arg]
    fields = [f"{k}={v}" for k, v in (got.get("Metadata") or {}).items()]
    fields += [f"{k}={got[k]}" for k in ("ContentDisposition", "ContentType", "ContentEncoding") if got.get(k)]
    return "\n".join(fields).encode()


def _moto_multiparts(bucket: str) -> dict[str, bytes]:
    """Upload id -> metadata and part bytes, from the moto server running in this process."""
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        fake = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[bucket]
    except (ImportError, KeyError):
        return {}
    found: dict[str, bytes] = {}
    for upload_id, multipart in list(fake.multiparts.items()):
        metadata = "\n".join(f"{k}={v}" for k, v in dict(multipart.metadata or {}).items()).encode()
        found[upload_id] = b"\n".join([metadata, *(part.value for part in list(multipart.parts.values()))])
    return found


def s3_location(settings: Settings) -> S3Location | None:
    url = settings.resolved_storage_url
    if not url.startswith("s3://") or settings.storage_endpoint is None:
        return None
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    return S3Location(
        endpoint=settings.storage_endpoint, bucket=bucket, prefix=f"{prefix}/" if prefix else "",
        region=settings.storage_region, access_key_id=settings.storage_access_key_id,
        secret_access_key=settings.storage_secret_access_key,
    )
