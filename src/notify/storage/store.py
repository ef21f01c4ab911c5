"""The object store Notify talks to: one async API over obstore's S3, Local and Memory stores.

Every method translates obstore's exceptions into :mod:`notify.storage.errors`. Keys are
``/``-separated paths such as ``uploads/<service>/<job>.csv``; obstore rejects empty segments and
``..`` with ``ValueError``.
"""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import obstore
from obstore.store import LocalStore, S3Store

from notify.storage.errors import ObjectNotFound, StorageError, translate_errors

if TYPE_CHECKING:
    from obstore import ObjectMeta
    from obstore.store import ObjectStore as RawStore

__all__ = ["ObjectInfo", "ObjectStore"]

# Multipart writes buffer one part per in-flight upload, so put_stream holds at most
# _PART_SIZE * _PART_CONCURRENCY bytes. S3 requires parts of at least 5 MiB (except the last).
_PART_SIZE = 5 * 1024 * 1024
_PART_CONCURRENCY = 4
# S3 refuses presigned URLs that live longer than seven days.
_MAX_PRESIGN = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What the store knows about one object, without its content."""

    key: str
    size: int
    last_modified: datetime


class ObjectStore:
    """Async object storage over one obstore store (S3Store, LocalStore or MemoryStore).

    Build one with :func:`notify.storage.open_store`. Instances hold no per-request state and
    are safe to share between tasks.
    """

    def __init__(self, store: RawStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"<ObjectStore {type(self._store).__name__}>"

    @property
    def local_root(self) -> Path | None:
        """The directory holding a LocalStore's objects; ``None`` for other stores."""
        if isinstance(self._store, LocalStore):
            return self._store.prefix
        return None

    # -- writes ---------------------------------------------------------------------------

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key``, replacing any object there.

        Atomic: readers see the old object or the new one, never part of it. Durable once it
        returns (S3 acknowledges after storing; a local file is fsynced).
        """
        with translate_errors("put", key):
            await obstore.put_async(self._store, key, data)
            await self._sync_local(key)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the concatenated ``chunks`` at ``key`` with a multipart upload; return its size.

        Memory stays bounded by a few parts (see ``_PART_SIZE``), however long the stream. The
        object appears atomically when the upload completes; if ``chunks`` raises, the upload is
        abandoned and nothing is stored at ``key``.
        """
        written = 0
        source_error: Exception | None = None

        async def counted() -> AsyncIterator[bytes]:
            nonlocal written, source_error
            try:
                async for chunk in chunks:
                    written += memoryview(chunk).nbytes
                    yield chunk
            except Exception as exc:
                source_error = exc
                raise

        try:
            with translate_errors("put", key):
                await obstore.put_async(
                    self._store,
                    key,
                    counted(),
                    use_multipart=True,
                    chunk_size=_PART_SIZE,
                    max_concurrency=_PART_CONCURRENCY,
                )
                await self._sync_local(key)
        except StorageError as exc:
            if source_error is not None and exc.__cause__ is source_error:
                raise source_error from None  # the caller's stream failed, not the store
            raise
        return written

    async def delete(self, key: str) -> None:
        """Delete the object at ``key``. Deleting a missing object is not an error."""
        await self.delete_many([key])

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every object in ``keys`` (S3 batches them); missing objects are skipped."""
        batch = builtins.list(keys)
        if not batch:
            return
        described = ", ".join(batch[:3]) + (f" (+{len(batch) - 3} more)" if len(batch) > 3 else "")
        try:
            with translate_errors("delete", described):
                await obstore.delete_async(self._store, batch)
        except ObjectNotFound:
            # S3 and memory skip missing keys; a LocalStore stops at the first one.
            for key in batch:
                await self._delete_one(key)

    async def _delete_one(self, key: str) -> None:
        try:
            with translate_errors("delete", key):
                await obstore.delete_async(self._store, key)
        except ObjectNotFound:
            pass

    # -- reads ----------------------------------------------------------------------------

    async def get(self, key: str) -> bytes:
        """Return the whole object at ``key``."""
        with translate_errors("get", key):
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        """Return bytes ``[start, end)`` of the object; a range past its end is cut short."""
        _check_range(start, end)
        with translate_errors("get_range", key):
            return bytes(await obstore.get_range_async(self._store, key, start=start, end=end))

    async def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]]
    ) -> builtins.list[bytes]:
        """Return each ``[start, end)`` range of the object, in order.

        Ranges less than 1 MiB apart are fetched in one request.
        """
        if not ranges:
            return []
        for start, end in ranges:
            _check_range(start, end)
        with translate_errors("get_ranges", key):
            parts = await obstore.get_ranges_async(
                self._store,
                key,
                starts=[start for start, _ in ranges],
                ends=[end for _, end in ranges],
            )
        return [bytes(part) for part in parts]

    async def stream(
        self, key: str, *, start: int = 0, chunk_size: int = 1 << 20
    ) -> AsyncIterator[bytes]:
        """Yield the object from byte ``start`` to its end in chunks of ``chunk_size`` bytes.

        Every chunk but the last is exactly ``chunk_size`` bytes, and only about one chunk is
        held in memory at a time. ``start`` equal to the object's size yields nothing.
        """
        if start < 0 or chunk_size < 1:
            raise ValueError(f"invalid stream start={start} chunk_size={chunk_size}")
        options: obstore.GetOptions | None = {"range": {"offset": start}} if start else None
        try:
            with translate_errors("stream", key):
                result = await obstore.get_async(self._store, key, options=options)
        except StorageError:
            # Stores refuse a range that starts at the end; that is an empty read, not a failure.
            if start and (await self.head(key)).size == start:
                return
            raise
        # obstore's min_chunk_size is only a floor (MemoryStore returns one chunk for the whole
        # object), so pieces are re-cut to the promised size here.
        pieces = result.stream(min_chunk_size=chunk_size)
        pending = bytearray()
        while True:
            with translate_errors("stream", key):
                try:
                    piece = await anext(pieces)
                except StopAsyncIteration:
                    break
            if not pending and len(piece) == chunk_size:
                yield piece
                continue
            pending += piece
            while len(pending) >= chunk_size:
                yield bytes(pending[:chunk_size])
                del pending[:chunk_size]
        if pending:
            yield bytes(pending)

    async def head(self, key: str) -> ObjectInfo:
        """Return the size and modification time of the object at ``key``."""
        with translate_errors("head", key):
            meta = await obstore.head_async(self._store, key)
        return _object_info(meta)

    async def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""
        try:
            await self.head(key)
        except ObjectNotFound:
            return False
        return True

    async def presigned_get_url(self, key: str, expires_in: timedelta) -> str | None:
        """A URL that lets its holder GET the object until it expires; ``None`` unless on S3."""
        if not isinstance(self._store, S3Store):
            return None
        if not timedelta(seconds=1) <= expires_in <= _MAX_PRESIGN:
            raise ValueError(f"expires_in must be between 1 second and 7 days, got {expires_in}")
        with translate_errors("sign", key):
            return await obstore.sign_async(self._store, "GET", key, expires_in)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        """Yield every object under ``prefix``, recursively, in no particular order.

        Prefixes match whole path segments: ``uploads/`` and ``uploads`` both match
        ``uploads/a.csv``, but ``upl`` does not.
        """
        with translate_errors("list", prefix):
            batches = obstore.list(self._store, prefix or None, chunk_size=1000)
        while True:
            with translate_errors("list", prefix):
                try:
                    batch = await anext(batches)
                except StopAsyncIteration:
                    return
            for meta in batch:
                yield _object_info(meta)

    # -- local durability -----------------------------------------------------------------

    async def _sync_local(self, key: str) -> None:
        # LocalStore writes a staging file and renames it into place, but never fsyncs.
        root = self.local_root
        if root is not None:
            await asyncio.to_thread(_fsync_file_and_dir, root / key)


def _check_range(start: int, end: int) -> None:
    if start < 0 or end <= start:
        raise ValueError(f"invalid byte range [{start}, {end})")


def _object_info(meta: ObjectMeta) -> ObjectInfo:
    return ObjectInfo(key=meta["path"], size=meta["size"], last_modified=meta["last_modified"])


def _fsync_file_and_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
