"""Delivery receipts, timeouts and service callbacks (issue 4).

- parked_receipts: a receipt whose provider reference is not recorded yet (the provider can answer
  before our send transaction commits). Applied once the send is recorded; never a recipient.
- receipt_sources: each receipt source's persisted position (the CloudWatch poller's watermark).
- sns_messages_seen: SNS message ids already accepted, so a replayed message is rejected.
- service_callbacks: a service's delivery-status callback URL and its bearer token (encrypted).
- callback_outbox: notifications whose final status still has to be POSTed to their service.
  Filled in the receipt statement itself and drained by its own task, so callbacks never slow
  receipts down.
- services.sms_provider / email_provider: a per-service provider choice (NULL: the configured default).
- ix_notifications_sent_at, a BRIN index: the timeout sweep reads one window of sends at a time.
  A partial index on status ("still waiting") was measured and rejected: any index that mentions
  status makes every receipt a non-HOT update, which writes every index of the table again
  (bench/receipts.py). A btree on sent_at cost the send path an index write on every claim and
  record (bench/bulk_send.py: 5.9k -> 4.7k msg/s); BRIN is a summarising index, so the claim,
  which sets sent_at, can stay a HOT update, and rows are sent roughly in the order they are stored.
- notifications fillfactor 80: a receipt changes no indexed column, so it can be a HOT update, but
  only if the row's page has room for the new version. Pages packed full made almost every
  receipt non-HOT (five index writes each); at 80% most receipts are HOT and applying them runs
  about twice as fast (bench/receipts.py), for a table about a quarter larger.
- provider references compare byte-wise (COLLATE "C"): they are opaque ids, and the receipt
  lookups spent much of their time in locale-aware string comparison.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parked_receipts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("provider_reference", sa.String(length=255, collation="C"), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("carrier", sa.String(length=255), nullable=True),
        sa.Column("provider_response", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_receipts")),
    )
    op.create_index("ix_parked_receipts_provider_reference", "parked_receipts", ["provider_reference"])
    op.create_index("ix_parked_receipts_received_at", "parked_receipts", ["received_at"])
    op.create_table(
        "receipt_sources",
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("position", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_receipt_sources")),
    )
    op.create_table(
        "sns_messages_seen",
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_sns_messages_seen")),
    )
    op.create_index("ix_sns_messages_seen_received_at", "sns_messages_seen", ["received_at"])
    op.create_table(
        "service_callbacks",
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("callback_type", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("bearer_token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_callbacks_service_id_services"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("service_id", "callback_type", name=op.f("pk_service_callbacks")),
    )
    op.create_table(
        "callback_outbox",
        sa.Column("notification_id", sa.UUID(), nullable=False),
        sa.Column("service_id", sa.UUID(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_callback_outbox")),
    )
    op.create_index("ix_callback_outbox_next_attempt_at", "callback_outbox", ["next_attempt_at"])
    op.add_column("services", sa.Column("sms_provider", sa.String(length=32), nullable=True))
    op.add_column("services", sa.Column("email_provider", sa.String(length=32), nullable=True))
    op.create_index("ix_notifications_sent_at", "notifications", ["sent_at"], postgresql_using="brin")
    op.execute("ALTER TABLE notifications SET (fillfactor = 80)")
    op.execute('ALTER TABLE notifications ALTER COLUMN provider_reference TYPE varchar(255) COLLATE "C"')


def downgrade() -> None:
    op.execute("ALTER TABLE notifications RESET (fillfactor)")
    op.execute('ALTER TABLE notifications ALTER COLUMN provider_reference TYPE varchar(255) COLLATE "default"')
    op.drop_index("ix_notifications_sent_at", table_name="notifications")
    op.drop_column("services", "email_provider")
    op.drop_column("services", "sms_provider")
    op.drop_index("ix_callback_outbox_next_attempt_at", table_name="callback_outbox")
    op.drop_table("callback_outbox")
    op.drop_table("service_callbacks")
    op.drop_index("ix_sns_messages_seen_received_at", table_name="sns_messages_seen")
    op.drop_table("sns_messages_seen")
    op.drop_table("receipt_sources")
    op.drop_index("ix_parked_receipts_received_at", table_name="parked_receipts")
    op.drop_index("ix_parked_receipts_provider_reference", table_name="parked_receipts")
    op.drop_table("parked_receipts")
