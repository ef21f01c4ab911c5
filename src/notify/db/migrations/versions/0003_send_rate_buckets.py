"""Per-sender send rate limits as token buckets that every worker process shares.

A bucket is keyed by a sender identifier (``sms:+12025550100``, ``email:ses``): the service's own
origination number or provider account, never a recipient.  ``notify_take_send_tokens`` refills
the bucket by the time elapsed on the database's clock, so workers on different machines agree on
"now", and takes what it can in one statement; callers run it in autocommit, so the bucket's row
lock is held only while that statement runs.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_rate_buckets",
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("refilled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_send_rate_buckets")),
    )
    op.execute(
        """
        CREATE FUNCTION notify_take_send_tokens(
            p_bucket text, p_wanted integer, p_rate double precision, p_burst double precision
        ) RETURNS TABLE (granted integer, wait_seconds double precision) LANGUAGE plpgsql AS $$
        DECLARE
            -- A bucket smaller than one token could never grant anything.
            v_burst double precision := GREATEST(p_burst, 1);
            v_tokens double precision;
            v_refilled_at timestamptz;
            v_now timestamptz;
        BEGIN
            IF p_rate IS NULL OR p_rate <= 0 THEN
                RAISE EXCEPTION 'notify_take_send_tokens: rate must be positive, got %', p_rate
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            SELECT b.tokens, b.refilled_at INTO v_tokens, v_refilled_at
              FROM send_rate_buckets b WHERE b.bucket = p_bucket FOR UPDATE;
            IF NOT FOUND THEN
                -- First use: the bucket starts full.  A concurrent first caller may win the insert;
                -- either way the row exists afterwards and the lock below serialises us.
                INSERT INTO send_rate_buckets (bucket, tokens, refilled_at)
                VALUES (p_bucket, v_burst, clock_timestamp())
                ON CONFLICT (bucket) DO NOTHING;
                SELECT b.tokens, b.refilled_at INTO v_tokens, v_refilled_at
                  FROM send_rate_buckets b WHERE b.bucket = p_bucket FOR UPDATE;
            END IF;
            -- Read the clock only once the lock is ours, so time never runs backwards between
            -- consecutive holders (GREATEST guards against a clock step anyway).
            v_now := clock_timestamp();
            v_tokens := LEAST(
                v_burst,
                v_tokens + GREATEST(EXTRACT(EPOCH FROM v_now - v_refilled_at)::double precision, 0) * p_rate
            );
            granted := GREATEST(LEAST(COALESCE(p_wanted, 0)::double precision, floor(v_tokens)), 0)::integer;
            v_tokens := v_tokens - granted;
            wait_seconds := CASE WHEN v_tokens >= 1 THEN 0 ELSE (1 - v_tokens) / p_rate END;
            UPDATE send_rate_buckets SET tokens = v_tokens, refilled_at = v_now WHERE bucket = p_bucket;
            RETURN NEXT;
        END
        $$;
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION notify_take_send_tokens(text, integer, double precision, double precision)")
    op.drop_table("send_rate_buckets")
