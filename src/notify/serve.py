"""Serve the ASGI app with uvicorn, in-process (one worker) or as a process group (several)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from notify.app import create_app
from notify.config import Settings, load_settings
from notify.log_config import configure_logging


def app_from_env() -> FastAPI:
    """Factory for uvicorn's multi-process mode, where each process builds its own app."""
    settings = load_settings()
    configure_logging(settings.resolved_log_format, settings.log_level)
    return create_app(settings)


def serve(settings: Settings, *, run_worker: bool, workers: int = 1) -> None:
    common = dict(host=settings.host, port=settings.port, log_config=None, access_log=False, timeout_graceful_shutdown=10)
    if workers > 1:
        uvicorn.run("notify.serve:app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]
        return
    uvicorn.run(create_app(settings, run_worker=run_worker), **common)  # type: ignore[arg-type]
