"""Retention: roll notification counts into facts, then delete expired rows and objects.

See :mod:`notify.retention.expiry` for the exact rule, and :func:`run_retention` for the order.
"""

from notify.retention.expiry import expiry_cutoff
from notify.retention.exports import DEFAULT_EXPORT_TTL_HOURS, delete_expired_exports
from notify.retention.nightly import RetentionReport, run_retention, sweep_exports

__all__ = [
    "DEFAULT_EXPORT_TTL_HOURS",
    "RetentionReport",
    "delete_expired_exports",
    "expiry_cutoff",
    "run_retention",
    "sweep_exports",
]
