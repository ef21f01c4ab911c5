"""The PII promise at rest (issue 9).

- service_team_members: a team contact (the service's staff, used as recipients in trial mode and
  with team keys) is stored encrypted under NOTIFY_SECRET_KEY (``recipient_encrypted``, Fernet,
  like API key secrets) with a keyed HMAC of its normalised form for lookup (``recipient_lookup``,
  key derived from NOTIFY_SECRET_KEY and never stored). The clear ``recipient`` column goes.
  Existing rows are converted here, so this revision needs the secret key when the table has
  rows: ``notify db upgrade`` passes it (notify.db.migrate.upgrade(..., secret_key=...)).
- jobs: an archived job (its file deleted by retention) keeps neither the uploaded file name nor
  its header row; rows archived before this revision are redacted here.
- report_exports.data_from: the oldest row an export may hold, so the sweep deletes an export
  when that row's retention ends, even if the service's retention is shortened afterwards; and an
  index on (service_id, created_at) for the per-service export limits, and a partial index of the
  exports not yet expired for the sweep that runs every minute.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _secret_box():  # type: ignore[no-untyped-def]
    from notify.secrets import SecretBox

    secret_key = context.config.attributes.get("secret_key")
    if not secret_key:
        raise RuntimeError(
            "service_team_members has rows to encrypt: run this migration with NOTIFY_SECRET_KEY "
            "(`notify db upgrade` passes it)"
        )
    return SecretBox(secret_key)


def upgrade() -> None:
    from notify.catalogue.services import team_lookup
    from notify.db.models import TemplateType

    conn = op.get_bind()
    op.add_column("service_team_members", sa.Column("recipient_encrypted", sa.LargeBinary(), nullable=True))
    op.add_column("service_team_members", sa.Column("recipient_lookup", sa.LargeBinary(), nullable=True))
    rows = conn.execute(sa.text("SELECT id, recipient_type, recipient FROM service_team_members")).all()
    if rows:
        box = _secret_box()
        for row_id, kind, recipient in rows:
            conn.execute(
                sa.text("UPDATE service_team_members SET recipient_encrypted = :e, recipient_lookup = :l WHERE id = :id"),
                {"e": box.encrypt(recipient), "l": team_lookup(box, TemplateType(kind), recipient), "id": row_id},
            )
    op.alter_column("service_team_members", "recipient_encrypted", nullable=False)
    op.alter_column("service_team_members", "recipient_lookup", nullable=False)
    op.drop_constraint("uq_service_team_members_service_id", "service_team_members", type_="unique")
    op.drop_column("service_team_members", "recipient")
    op.create_unique_constraint(
        "uq_service_team_members_service_id", "service_team_members", ["service_id", "recipient_type", "recipient_lookup"]
    )

    op.execute("UPDATE jobs SET original_file_name = NULL, header = NULL WHERE archived_at IS NOT NULL")

    op.add_column("report_exports", sa.Column("data_from", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_report_exports_service_created", "report_exports", ["service_id", "created_at"])
    op.create_index(
        "ix_report_exports_unexpired", "report_exports", ["expires_at"], postgresql_where=sa.text("status <> 'expired'")
    )


def downgrade() -> None:
    conn = op.get_bind()
    op.drop_index("ix_report_exports_unexpired", table_name="report_exports")
    op.drop_index("ix_report_exports_service_created", table_name="report_exports")
    op.drop_column("report_exports", "data_from")

    op.add_column("service_team_members", sa.Column("recipient", sa.String(length=255), nullable=True))
    rows = conn.execute(sa.text("SELECT id, recipient_encrypted FROM service_team_members")).all()
    if rows:
        box = _secret_box()
        for row_id, token in rows:
            conn.execute(
                sa.text("UPDATE service_team_members SET recipient = :r WHERE id = :id"),
                {"r": box.decrypt(token), "id": row_id},
            )
    op.alter_column("service_team_members", "recipient", nullable=False)
    op.drop_constraint("uq_service_team_members_service_id", "service_team_members", type_="unique")
    op.drop_column("service_team_members", "recipient_encrypted")
    op.drop_column("service_team_members", "recipient_lookup")
    op.create_unique_constraint(
        "uq_service_team_members_service_id", "service_team_members", ["service_id", "recipient_type", "recipient"]
    )
