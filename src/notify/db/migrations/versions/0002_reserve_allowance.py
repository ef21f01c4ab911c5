"""A server-side function that reserves a service's daily and per-minute allowance in one call.

Doing the check-and-increment inside PostgreSQL keeps the counter row locked for microseconds, in
its own autocommit statement, instead of for a client round trip; with many API processes sending
for one busy service that lock is the only thing they share.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION notify_reserve_allowance(
            p_service uuid, p_day timestamptz, p_window timestamptz, p_wanted integer,
            p_daily_limit integer, p_rate_limit integer,
            OUT granted integer, OUT daily_left integer, OUT rate_left integer
        ) LANGUAGE plpgsql AS $$
        DECLARE
            used_daily bigint;
            used_rate bigint;
        BEGIN
            INSERT INTO usage_counters (service_id, kind, window_start, count)
            VALUES (p_service, 'daily', p_day, 0), (p_service, 'rate', p_window, 0)
            ON CONFLICT DO NOTHING;
            -- Always lock daily before rate, so concurrent callers cannot deadlock.
            SELECT count INTO used_daily FROM usage_counters
             WHERE service_id = p_service AND kind = 'daily' AND window_start = p_day FOR UPDATE;
            SELECT count INTO used_rate FROM usage_counters
             WHERE service_id = p_service AND kind = 'rate' AND window_start = p_window FOR UPDATE;
            daily_left := GREATEST(p_daily_limit - used_daily, 0);
            rate_left := GREATEST(p_rate_limit - used_rate, 0);
            granted := LEAST(p_wanted, daily_left, rate_left);
            IF granted > 0 THEN
                UPDATE usage_counters SET count = count + granted
                 WHERE service_id = p_service
                   AND ((kind = 'daily' AND window_start = p_day) OR (kind = 'rate' AND window_start = p_window));
            END IF;
        END
        $$;
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION notify_reserve_allowance(uuid, timestamptz, timestamptz, integer, integer, integer)"
    )
