"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from notify.api.auth import VerifiedTokens
from notify.api.body_limits import BodyLimitMiddleware, route_body_limits
from notify.api.catch_all import CatchAllMiddleware
from notify.api.errors import install_error_handlers
from notify.api.responses import json_response
from notify.api.v2_notifications import router as notifications_router
from notify.api.v2_templates import router as templates_router
from notify.api.v2_jobs import router as jobs_router
from notify.api.v2_reports import router as reports_router
from notify.api.sns_receipts import router as sns_receipts_router
from notify.config import Settings
from notify.log_config import get_logger
from notify.runtime import Runtime, open_runtime
from notify.sending.providers.base import EmailProvider, SmsProvider
from notify.storage import ObjectStore

logger = get_logger(__name__)


def create_app(
    settings: Settings,
    *,
    run_worker: bool = False,
    sms_provider: SmsProvider | None = None,
    email_provider: EmailProvider | None = None,
    store: ObjectStore | None = None,
) -> FastAPI:
    """``run_worker`` runs a queue worker inside the API process (``notify run``)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(
            settings, sms_provider=sms_provider, email_provider=email_provider, store=store
        ) as runtime:
            app.state.runtime = runtime
            # Everything built at start-up lives for the whole process; freezing it keeps the
            # garbage collector from rescanning it on every collection (fewer latency spikes).
            gc.collect()
            gc.freeze()
            worker: asyncio.Task[None] | None = None
            if run_worker:
                from notify.worker import run_worker as run

                worker = asyncio.create_task(run(runtime), name="notify-worker")
            try:
                yield
            finally:
                if worker is not None:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker

    app = FastAPI(
        title="Notify",
        version="2",
        description="Send SMS and email to the public; GOV.UK Notify v2 compatible.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.verified_tokens = VerifiedTokens(settings.jwt_leeway_seconds)
    install_error_handlers(app)
    app.add_middleware(CatchAllMiddleware)
    # Outermost of ours, so a body cut off mid-stream is answered 413 whatever the app did with it.
    app.add_middleware(BodyLimitMiddleware, default=settings.max_json_body_bytes, routes=route_body_limits(settings))
    app.include_router(notifications_router)
    app.include_router(templates_router)
    app.include_router(jobs_router)
    app.include_router(reports_router)
    app.include_router(sns_receipts_router)

    @app.get("/_status", include_in_schema=False)
    async def status(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return json_response({"status": "ok"})

    return app
