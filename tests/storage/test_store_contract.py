"""One contract for every object store: memory, local files and S3 (moto's server over HTTP)."""

from __future__ import annotations

import hashlib
import socket
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from obstore.store import S3Store

from notify.storage import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    StorageUnavailable,
    export_key,
    open_store,
    upload_key,
)
from tests.fixtures.moto_server import (
    MOTO_ACCESS_KEY_ID,
    MOTO_REGION,
    MOTO_SECRET_ACCESS_KEY,
    s3_client,
)

MiB = 1024 * 1024
STORE_KINDS = ["memory", "local", "s3"]


def _open_s3(endpoint: str, bucket: str, prefix: str = "") -> ObjectStore:
    return open_store(
        f"s3://{bucket}{'/' + prefix if prefix else ''}",
        endpoint=endpoint,
        region=MOTO_REGION,
        access_key_id=MOTO_ACCESS_KEY_ID,
        secret_access_key=MOTO_SECRET_ACCESS_KEY,
        allow_http=True,
    )


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "memory":
        return open_store("memory://")
    if request.param == "local":
        return open_store(f"file://{tmp_path / 'objects'}")
    endpoint = request.getfixturevalue("moto_s3_endpoint")
    return _open_s3(endpoint, request.getfixturevalue("s3_bucket"))


def _key(name: str = "data") -> str:
    return f"uploads/{uuid.uuid4()}/{name}.csv"


def _pattern(size: int) -> bytes:
    """Bytes whose value depends on position, so a shifted or reordered chunk shows up."""
    block = bytes(range(251))  # prime length: never aligns with power-of-two chunk sizes
    return (block * (size // len(block) + 1))[:size]


async def _generated(total: int, piece: int) -> AsyncIterator[bytes]:
    """Yield ``total`` bytes in pieces of ``piece``, each piece stamped with its index."""
    for index, offset in enumerate(range(0, total, piece)):
        size = min(piece, total - offset)
        yield (index.to_bytes(4, "big") * (size // 4 + 1))[:size]


async def _collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


# -- writes and whole reads ----------------------------------------------------------------


async def test_put_then_get_round_trips(store: ObjectStore) -> None:
    key = upload_key(uuid.uuid4(), uuid.uuid4())
    await store.put(key, b"phone number,name\n07700900001,Ada\n")

    assert await store.get(key) == b"phone number,name\n07700900001,Ada\n"


async def test_put_replaces_an_existing_object(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"first version, longer")
    await store.put(key, b"second")

    assert await store.get(key) == b"second"
    assert (await store.head(key)).size == len(b"second")


async def test_empty_object_round_trips(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"")

    assert await store.get(key) == b""
    assert (await store.head(key)).size == 0
    assert await _collect(store.stream(key)) in ([], [b""])


async def test_head_reports_size_and_a_recent_aware_timestamp(store: ObjectStore) -> None:
    key = _key()
    before = datetime.now(UTC) - timedelta(seconds=5)
    await store.put(key, b"x" * 1234)

    info = await store.head(key)

    assert info.size == 1234
    assert info.key == key
    assert info.last_modified.tzinfo is not None
    assert before <= info.last_modified <= datetime.now(UTC) + timedelta(seconds=5)


async def test_exists(store: ObjectStore) -> None:
    key = _key()
    assert not await store.exists(key)
    await store.put(key, b"x")
    assert await store.exists(key)


# -- ranged reads --------------------------------------------------------------------------


async def test_get_range_returns_exact_bytes(store: ObjectStore) -> None:
    data = _pattern(10_000)
    key = _key()
    await store.put(key, data)

    assert await store.get_range(key, 0, 1) == data[0:1]
    assert await store.get_range(key, 1234, 5678) == data[1234:5678]
    assert await store.get_range(key, 9_999, 10_000) == data[9_999:]


async def test_get_range_past_the_end_is_cut_short(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"0123456789")

    assert await store.get_range(key, 6, 100) == b"6789"


@pytest.mark.parametrize(("start", "end"), [(5, 5), (6, 5), (-1, 3)])
async def test_get_range_rejects_empty_or_negative_ranges(
    store: ObjectStore, start: int, end: int
) -> None:
    key = _key()
    await store.put(key, b"0123456789")

    with pytest.raises(ValueError, match="invalid byte range"):
        await store.get_range(key, start, end)


async def test_get_ranges_returns_each_range_in_order(store: ObjectStore) -> None:
    data = _pattern(3 * MiB)
    key = _key()
    await store.put(key, data)
    # Close ranges (coalesced into one request), a far one (its own request), an overlap and a
    # range given out of order.
    ranges = [(0, 10), (20, 35), (2 * MiB + 7, 2 * MiB + 4096), (5, 25), (100, 101)]

    parts = await store.get_ranges(key, ranges)

    assert parts == [data[start:end] for start, end in ranges]
    assert await store.get_ranges(key, []) == []


# -- streaming -----------------------------------------------------------------------------


async def test_stream_reassembles_a_multi_megabyte_object_in_chunks(store: ObjectStore) -> None:
    data = _pattern(5 * MiB + 12_345)
    key = _key()
    await store.put(key, data)
    chunk_size = 256 * 1024

    chunks = await _collect(store.stream(key, chunk_size=chunk_size))

    assert b"".join(chunks) == data
    assert len(chunks) > 2
    assert all(len(chunk) == chunk_size for chunk in chunks[:-1])


async def test_stream_from_an_offset(store: ObjectStore) -> None:
    data = _pattern(2 * MiB)
    key = _key()
    await store.put(key, data)

    streamed = b"".join(await _collect(store.stream(key, start=MiB + 3, chunk_size=64 * 1024)))

    assert streamed == data[MiB + 3 :]


async def test_stream_from_the_end_yields_nothing(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"0123456789")

    assert await _collect(store.stream(key, start=10)) == []


async def test_stream_past_the_end_is_an_error(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"0123456789")

    with pytest.raises(StorageError):
        await _collect(store.stream(key, start=11))


async def test_put_stream_of_12_mib_round_trips_through_multipart(store: ObjectStore) -> None:
    total = 12 * MiB + 777  # three 5 MiB parts, the last one short
    key = _key()
    expected = hashlib.sha256()
    async for piece in _generated(total, 300_001):
        expected.update(piece)

    written = await store.put_stream(key, _generated(total, 300_001))

    assert written == total
    assert (await store.head(key)).size == total
    streamed = hashlib.sha256()
    async for chunk in store.stream(key, chunk_size=MiB):
        streamed.update(chunk)
    assert streamed.hexdigest() == expected.hexdigest()


async def test_put_stream_of_nothing_stores_an_empty_object(store: ObjectStore) -> None:
    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""  # pragma: no cover - makes this an async generator

    key = _key()
    assert await store.put_stream(key, nothing()) == 0
    assert await store.get(key) == b""


@pytest.mark.parametrize("error", [RuntimeError("source went away"), FileNotFoundError("source")])
async def test_put_stream_whose_source_fails_stores_nothing(
    store: ObjectStore, error: Exception
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a" * (6 * MiB)  # more than one part, so a multipart upload is under way
        raise error

    key = _key()
    with pytest.raises(type(error)) as caught:
        await store.put_stream(key, broken())

    assert caught.value is error  # the caller's failure, not translated into a StorageError
    assert not await store.exists(key)
    assert [info async for info in store.list(key.rsplit("/", 1)[0])] == []


# -- listing and deleting ------------------------------------------------------------------


async def test_list_by_prefix(store: ObjectStore) -> None:
    service, other = uuid.uuid4(), uuid.uuid4()
    mine = {upload_key(service, uuid.uuid4()): b"a" * n for n in (1, 2, 3)}
    theirs = upload_key(other, uuid.uuid4())
    export = export_key(service, uuid.uuid4())
    for key, data in mine.items():
        await store.put(key, data)
    await store.put(theirs, b"x")
    await store.put(export, b"y")

    listed = [info async for info in store.list(f"uploads/{service}/")]

    assert {info.key: info.size for info in listed} == {k: len(v) for k, v in mine.items()}
    assert all(isinstance(info, ObjectInfo) for info in listed)
    everything = {info.key async for info in store.list("uploads/")}
    assert everything >= {*mine, theirs}
    assert export not in everything
    assert [info async for info in store.list(f"uploads/{uuid.uuid4()}/")] == []


async def test_delete_is_idempotent(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"x")

    await store.delete(key)
    await store.delete(key)

    assert not await store.exists(key)


async def test_delete_many_skips_missing_objects(store: ObjectStore) -> None:
    keys = [_key(str(n)) for n in range(3)]
    for key in keys:
        await store.put(key, b"x")
    survivor = _key("survivor")
    await store.put(survivor, b"keep")

    await store.delete_many([keys[0], _key("never-existed"), keys[1], keys[2]])
    await store.delete_many([])

    for key in keys:
        assert not await store.exists(key)
    assert await store.get(survivor) == b"keep"


# -- missing objects -----------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["get", "get_range", "get_ranges", "head", "stream"])
async def test_missing_object_raises_object_not_found(store: ObjectStore, operation: str) -> None:
    key = _key("missing")
    calls = {
        "get": lambda: store.get(key),
        "get_range": lambda: store.get_range(key, 0, 10),
        "get_ranges": lambda: store.get_ranges(key, [(0, 10)]),
        "head": lambda: store.head(key),
        "stream": lambda: _collect(store.stream(key)),
    }

    with pytest.raises(ObjectNotFound) as caught:
        await calls[operation]()

    assert isinstance(caught.value, StorageError)
    assert caught.value.key == key
    assert key in str(caught.value)
    assert caught.value.__cause__ is not None  # obstore's error is kept as the cause


# -- presigned URLs and local files --------------------------------------------------------


def _fetch_without_proxy(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return response.read()


async def test_presigned_get_url(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"signed content")

    url = await store.presigned_get_url(key, timedelta(minutes=5))

    if isinstance(store._store, S3Store):
        assert url is not None
        assert _fetch_without_proxy(url) == b"signed content"
    else:
        assert url is None


async def test_local_root_holds_the_files(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"on disk")

    root = store.local_root
    if root is None:
        return
    assert (root / key).read_bytes() == b"on disk"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [key]


# -- factory -------------------------------------------------------------------------------


def test_memory_url_opens_a_fresh_store_each_time() -> None:
    first, second = open_store("memory://"), open_store("memory://")

    assert first.local_root is None
    assert first._store is not second._store


def test_file_url_with_absolute_path_creates_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"

    store = open_store(f"file://{root}")

    assert root.is_dir()
    assert store.local_root == root


async def test_file_url_with_relative_path_resolves_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = open_store("file://./.notify/objects")
    await store.put("uploads/s/j.csv", b"x")

    assert store.local_root == tmp_path / ".notify" / "objects"
    assert (tmp_path / ".notify" / "objects" / "uploads" / "s" / "j.csv").read_bytes() == b"x"


async def test_s3_url_prefix_is_applied_to_every_key(moto_s3_endpoint: str, s3_bucket: str) -> None:
    store = _open_s3(moto_s3_endpoint, s3_bucket, prefix="tenant/a")
    await store.put("uploads/s/j.csv", b"prefixed")

    client = s3_client(moto_s3_endpoint)
    try:
        listed = client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    finally:
        client.close()
    assert [item["Key"] for item in listed] == ["tenant/a/uploads/s/j.csv"]
    assert [info.key async for info in store.list("uploads/")] == ["uploads/s/j.csv"]
    url = await store.presigned_get_url("uploads/s/j.csv", timedelta(minutes=1))
    assert url is not None
    assert _fetch_without_proxy(url) == b"prefixed"


@pytest.mark.parametrize("url", ["gs://bucket", "ftp://x/y", "/plain/path", "memory", "S3://b"])
def test_unknown_scheme_is_refused_with_the_supported_ones(url: str) -> None:
    with pytest.raises(ValueError, match=r"memory://, file://, s3://"):
        open_store(url)


@pytest.mark.parametrize("url", ["file://", "s3://", "s3:///prefix", "memory://somewhere"])
def test_incomplete_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url)


def test_plain_http_endpoint_needs_allow_http() -> None:
    with pytest.raises(ValueError, match="allow_http"):
        open_store("s3://bucket", endpoint="http://127.0.0.1:9", region="us-east-1")


# -- error translation ---------------------------------------------------------------------


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


async def test_unreachable_s3_is_storage_unavailable(closed_port: int) -> None:
    store = ObjectStore(
        S3Store(
            "bucket",
            endpoint=f"http://127.0.0.1:{closed_port}",
            region=MOTO_REGION,
            access_key_id=MOTO_ACCESS_KEY_ID,
            secret_access_key=MOTO_SECRET_ACCESS_KEY,
            client_options={"allow_http": True},
            retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=1)},
        )
    )

    with pytest.raises(StorageUnavailable, match="uploads/x.csv") as caught:
        await store.get("uploads/x.csv")
    assert caught.value.__cause__ is not None


async def test_missing_bucket_is_not_mistaken_for_a_missing_object(moto_s3_endpoint: str) -> None:
    store = _open_s3(moto_s3_endpoint, f"no-such-bucket-{uuid.uuid4().hex[:8]}")

    # HEAD responses have no body, so head() and exists() cannot tell the two apart.
    for call in (store.get("uploads/x.csv"), store.delete("uploads/x.csv")):
        with pytest.raises(StorageError, match="bucket does not exist") as caught:
            await call
        assert not isinstance(caught.value, ObjectNotFound)


def test_keys() -> None:
    service = uuid.UUID("11111111-1111-1111-1111-111111111111")
    job = uuid.UUID("22222222-2222-2222-2222-222222222222")

    assert upload_key(service, job) == f"uploads/{service}/{job}.csv"
    assert export_key(service, job) == f"exports/{service}/{job}.csv"
