"""A cheaper write path for notifications, measured with bench/bulk_send.py.

- Index provider references only once they exist. A job creates its notifications without one;
  indexing those NULLs cost an index write per row and led the planner to scan the whole index
  for "not yet recorded" rows while sending. Receipts look references up by value, which the
  partial index still serves.
- Drop the foreign key from notifications to jobs. Its per-row trigger halved the speed of
  creating a job's notifications (61k -> 120k rows/s for 100k rows here). Rows are only ever
  written for a job that exists (the API batch inserts its job in the same transaction; a
  spreadsheet's rows are created from its job row), and jobs are never deleted, only archived.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("fk_notifications_job_id_jobs", "notifications", type_="foreignkey")
    op.drop_index("ix_notifications_provider_reference", table_name="notifications")
    op.create_index(
        "ix_notifications_provider_reference",
        "notifications",
        ["provider_reference"],
        postgresql_where=sa.text("provider_reference IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_provider_reference", table_name="notifications")
    op.create_index("ix_notifications_provider_reference", "notifications", ["provider_reference"])
    op.create_foreign_key(
        "fk_notifications_job_id_jobs", "notifications", "jobs", ["job_id"], ["id"], ondelete="CASCADE"
    )
