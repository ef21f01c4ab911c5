"""Spreadsheet jobs: the upload's shape (column names, sparse row index) and delivery chunks.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("template_version", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("api_key_id", sa.UUID(), nullable=True))
    op.add_column(
        "jobs",
        sa.Column("key_type", sa.Enum("normal", "team", "test", name="key_type", native_enum=False, length=20),
                  nullable=True),
    )
    op.add_column("jobs", sa.Column("sender_id", sa.UUID(), nullable=True))
    op.add_column("jobs", sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("header", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("jobs", sa.Column("recipient_column", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("byte_size", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("data_end", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("row_index_every", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("row_index", postgresql.ARRAY(sa.BigInteger()), nullable=True))
    op.add_column("jobs", sa.Column("billable_units", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.add_column("jobs", sa.Column("processing_started", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("processing_finished", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "job_chunks",
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("first_row", sa.Integer(), nullable=False),
        sa.Column("last_row", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_chunks_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "first_row", name=op.f("pk_job_chunks")),
    )


def downgrade() -> None:
    op.drop_table("job_chunks")
    for column in (
        "updated_at", "processing_finished", "processing_started", "billable_units", "row_index", "row_index_every",
        "data_end", "byte_size", "recipient_column", "header", "scheduled_for", "sender_id", "key_type",
        "api_key_id", "template_version",
    ):
        op.drop_column("jobs", column)
