"""A TCP relay in front of PostgreSQL that can drop a connection exactly at COMMIT.

The embedded server listens on a Unix socket; the relay listens on 127.0.0.1 and forwards to it
(or to a TCP server).  Armed, it watches for a connection that sends ``marker`` and then cuts that
connection at its next COMMIT: ``"before"`` drops it without forwarding the COMMIT (the server
aborts), ``"after"`` forwards the COMMIT, waits for the server's answer and drops the connection
instead of relaying it (the server committed; the client cannot know).
"""

from __future__ import annotations

import asyncio
from typing import Literal

from sqlalchemy.engine import make_url

Mode = Literal["before", "after"]


class CommitCuttingProxy:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self._url = url
        self._socket_dir = url.query.get("host")
        self._server: asyncio.Server | None = None
        self._armed: tuple[Mode, bytes] | None = None
        self.cuts = 0

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return self._url.set(host="127.0.0.1", port=port, query={}).render_as_string(hide_password=False)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    def arm(self, mode: Mode, marker: bytes) -> None:
        self._armed = (mode, marker)

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._socket_dir:
            socket_dir = self._socket_dir if isinstance(self._socket_dir, str) else self._socket_dir[0]
            return await asyncio.open_unix_connection(f"{socket_dir}/.s.PGSQL.{self._url.port or 5432}")
        return await asyncio.open_connection(self._url.host, self._url.port or 5432)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await self._open_upstream()
        watched = False
        to_client = asyncio.create_task(self._pump(server_r, client_w))
        try:
            while data := await client_r.read(65536):
                armed = self._armed
                if armed is not None and armed[1] in data:
                    watched = True
                if watched and armed is not None and b"COMMIT" in data:
                    self._armed = None
                    self.cuts += 1
                    if armed[0] == "after":
                        to_client.cancel()
                        server_w.write(data)
                        await server_w.drain()
                        await server_r.read(65536)  # the server's CommandComplete: it has committed
                    break
                server_w.write(data)
                await server_w.drain()
        finally:
            to_client.cancel()
            for writer in (client_w, server_w):
                writer.close()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
