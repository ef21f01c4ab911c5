"""Retention: daily fact table, closed fact days, and jobs archived once their object is deleted.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_jobs_unarchived", "jobs", ["service_id", "created_at"], postgresql_where=sa.text("archived_at IS NULL")
    )
    op.create_table(
        "ft_notification_status",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("template_id", sa.UUID(), nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column(
            "notification_type",
            sa.Enum("sms", "email", name="notification_type", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "key_type", sa.Enum("normal", "team", "test", name="key_type", native_enum=False, length=20), nullable=False
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "service_id", "template_id", "job_id", "notification_type", "key_type", "status",
            name=op.f("pk_ft_notification_status"),
        ),
    )
    op.create_index("ix_ft_notification_status_service_day", "ft_notification_status", ["service_id", "day"])
    op.create_table(
        "ft_closed_days",
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("service_id", "day", name=op.f("pk_ft_closed_days")),
    )


def downgrade() -> None:
    op.drop_table("ft_closed_days")
    op.drop_index("ix_ft_notification_status_service_day", table_name="ft_notification_status")
    op.drop_table("ft_notification_status")
    op.drop_index("ix_jobs_unarchived", table_name="jobs")
    op.drop_column("jobs", "archived_at")
