"""Object storage: where recipient files and report exports live, and how they are named."""

from notify.storage.errors import ObjectNotFound, StorageError, StorageUnavailable
from notify.storage.factory import SUPPORTED_SCHEMES, open_store
from notify.storage.keys import EXPORTS_PREFIX, UPLOADS_PREFIX, export_key, upload_key
from notify.storage.store import ObjectInfo, ObjectStore

__all__ = [
    "EXPORTS_PREFIX",
    "SUPPORTED_SCHEMES",
    "UPLOADS_PREFIX",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "StorageError",
    "StorageUnavailable",
    "export_key",
    "open_store",
    "upload_key",
]
