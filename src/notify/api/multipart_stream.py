"""Read a multipart/form-data upload as a stream, without spooling the file anywhere.

Starlette's form parsing writes large files to a temporary file on disk; a recipient file must
never touch a temp file, so the upload is parsed incrementally (python-multipart's push parser)
and the file part's bytes are handed on as they arrive.  Form fields that come *before* the file
part are available when the file starts; fields after it are ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request


class MalformedUpload(ValueError):
    """The request is not a multipart upload we can read; the message says what to send instead."""


@dataclass
class _State:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)
    name: str = ""
    filename: str | None = None
    in_file: bool = False
    file_done: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    file_data: list[bytes] = field(default_factory=list)


@dataclass
class StreamedUpload:
    fields: dict[str, str]
    field_name: str
    filename: str
    chunks: AsyncIterator[bytes]


async def open_upload(request: Request, *, file_field: str = "file", max_field_bytes: int = 64 * 1024) -> StreamedUpload:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise MalformedUpload("Send the file as multipart/form-data with a 'file' field")
    state = _State()

    def on_part_begin() -> None:
        state.headers, state.value = {}, bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state.header_value += data[start:end]

    def on_header_end() -> None:
        state.headers[bytes(state.header_field).lower()] = bytes(state.header_value)
        state.header_field, state.header_value = bytearray(), bytearray()

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(state.headers.get(b"content-disposition", b""))
        state.name = disposition.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = disposition.get(b"filename")
        state.filename = raw_filename.decode("utf-8", "replace") if raw_filename is not None else None
        state.in_file = state.name == file_field and not state.file_done

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state.in_file:
            state.file_data.append(data[start:end])
        elif not state.file_done:
            state.value += data[start:end]
            if len(state.value) > max_field_bytes:
                raise MalformedUpload(f"form field {state.name!r} is too long")

    def on_part_end() -> None:
        if state.in_file:
            state.in_file, state.file_done = False, True
        elif not state.file_done:
            state.fields[state.name] = state.value.decode("utf-8", "replace")

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    body = request.stream()
    # Read until the file part has started, so the fields before it are known.
    async for chunk in body:
        _write(parser, chunk)
        if state.in_file or state.file_done:
            break
    if not (state.in_file or state.file_done):
        raise MalformedUpload(f"the form has no {file_field!r} file part")
    filename = state.filename or "upload.csv"

    async def file_chunks() -> AsyncIterator[bytes]:
        while True:
            if state.file_data:
                pending, state.file_data = state.file_data, []
                for piece in pending:
                    if piece:
                        yield piece
            if state.file_done:
                return
            try:
                chunk = await body.__anext__()
            except StopAsyncIteration:
                raise MalformedUpload("the upload ended before the file did") from None
            _write(parser, chunk)

    return StreamedUpload(dict(state.fields), file_field, filename, file_chunks())


def _write(parser: MultipartParser, chunk: bytes) -> None:
    try:
        parser.write(chunk)
    except MalformedUpload:
        raise
    except Exception as exc:  # python-multipart raises its own parse errors
        raise MalformedUpload("the multipart body could not be read") from exc
