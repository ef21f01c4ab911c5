"""Object keys: the only place that knows how stored objects are named."""

from __future__ import annotations

from uuid import UUID

__all__ = ["EXPORTS_PREFIX", "UPLOADS_PREFIX", "export_key", "upload_key"]

UPLOADS_PREFIX = "uploads/"
EXPORTS_PREFIX = "exports/"


def upload_key(service_id: UUID, job_id: UUID) -> str:
    """Key of a job's recipient file: ``uploads/<service_id>/<job_id>.csv``."""
    return f"{UPLOADS_PREFIX}{service_id}/{job_id}.csv"


def export_key(service_id: UUID, export_id: UUID) -> str:
    """Key of a report export: ``exports/<service_id>/<export_id>.csv``."""
    return f"{EXPORTS_PREFIX}{service_id}/{export_id}.csv"
