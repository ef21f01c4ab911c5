"""The batch applier: every receipt source (SNS webhook, CloudWatch poller, the simulator) ends here.

One statement per batch, keyed by the indexed provider reference:
- statuses only move forward (notify.statuses.RANK), so duplicates and out-of-order receipts
  are harmless and the batch ends in the right state whatever order it arrived in;
- carrier and provider response are kept on the notification;
- a receipt whose reference no notification has yet is *parked*, not lost: a provider can answer
  before the transaction that records our send has committed. Parked receipts are applied by
  the send's own recording transaction (``apply_parked_for``) and, for the race where both
  commit at once, by the periodic ``sweep_parked_receipts``;
- notifications that reach a final status get a callback outbox row in the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.callbacks.outbox import enqueue_callbacks_cte
from notify.statuses import FINAL, RANK, Status


@dataclass(frozen=True, slots=True)
class Receipt:
    provider_reference: str
    status: Status
    carrier: str | None = None
    provider_response: str | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    changed: int  # notifications whose status moved forward
    parked: int  # receipts kept for a send not recorded yet


def rank_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{status.value}' THEN {rank}" for status, rank in RANK.items())
    return f"(CASE {column} {cases} ELSE -1 END)"


_FINAL_SQL = ", ".join(f"'{s.value}'" for s in sorted(FINAL))

# Run on the driver connection with binary parameters (%(name)b): psycopg dumps a 10,000-string
# list as a text-format array literal in about 8 ms, as a binary array in about 1.3 ms, and that
# was half the cost of applying a batch (bench/receipts.py).
_APPLY = f"""
    WITH r AS MATERIALIZED (
        -- In reference order, so concurrent batches lock shared rows in one order (no deadlock).
        SELECT * FROM unnest(CAST(%(refs)b AS text[]), CAST(%(statuses)b AS text[]), CAST(%(carriers)b AS text[]),
                             CAST(%(responses)b AS text[])) AS r(ref, status, carrier, response)
        ORDER BY ref COLLATE "C"
    ),
    changed AS (
        UPDATE notifications AS n
        SET status = r.status,
            carrier = COALESCE(r.carrier, n.carrier),
            provider_response = COALESCE(r.response, n.provider_response),
            completed_at = CASE WHEN r.status IN ({_FINAL_SQL}) THEN now() ELSE n.completed_at END,
            updated_at = now()
        FROM r
        WHERE n.provider_reference = r.ref AND n.provider_reference IS NOT NULL
          AND {rank_sql('r.status')} > {rank_sql('n.status')}
        RETURNING n.id, n.service_id, n.status, n.provider_reference
    ),
    parked AS (
        -- Only receipts that changed nothing are looked up again: most of a batch is skipped
        -- by an in-memory anti-join before any index probe.
        INSERT INTO parked_receipts (provider_reference, status, carrier, provider_response)
        SELECT r.ref, r.status, r.carrier, r.response FROM r
        WHERE NOT EXISTS (SELECT 1 FROM changed AS c WHERE c.provider_reference = r.ref)
          AND NOT EXISTS (SELECT 1 FROM notifications AS n
                          WHERE n.provider_reference = r.ref AND n.provider_reference IS NOT NULL)
        RETURNING 1
    ),
    {enqueue_callbacks_cte("changed")}
    SELECT (SELECT count(*) FROM changed), (SELECT count(*) FROM parked), (SELECT count(*) FROM callbacks)
    """


def _storable(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL: one such character would fail the whole batch it is in."""
    if value is None or "\x00" not in value:
        return value
    return value.replace("\x00", "") or None


def best_per_reference(receipts: Sequence[Receipt]) -> list[Receipt]:
    """One receipt per reference, the furthest along: what applying them all in any order gives.

    A receipt no send could match (no reference, or a NUL in it) is dropped, and NUL characters
    are removed from carrier and response, so one malformed event cannot fail its batch (a
    CloudWatch window, a webhook batch) and with it every other receipt there.
    """
    best: dict[str, Receipt] = {}
    for receipt in receipts:
        if not receipt.provider_reference or "\x00" in receipt.provider_reference:
            continue  # nothing could ever match it
        if "\x00" in (receipt.carrier or "") or "\x00" in (receipt.provider_response or ""):
            receipt = Receipt(receipt.provider_reference, receipt.status, _storable(receipt.carrier),
                              _storable(receipt.provider_response))
        seen = best.get(receipt.provider_reference)
        if seen is None or RANK[receipt.status] > RANK[seen.status]:
            best[receipt.provider_reference] = receipt
    return list(best.values())


async def apply_receipts(conn: AsyncConnection, receipts: Sequence[Receipt]) -> Applied:
    """Apply a batch in one statement. The caller owns the transaction."""
    chosen = best_per_reference(receipts)
    if not chosen:
        return Applied(0, 0)
    # The driver connection is the one SQLAlchemy holds, so this runs in the caller's transaction.
    driver = (await conn.get_raw_connection()).driver_connection
    cursor = await driver.execute(
        _APPLY,
        {
            "refs": [r.provider_reference for r in chosen],
            "statuses": [r.status.value for r in chosen],
            "carriers": [r.carrier for r in chosen],
            "responses": [r.provider_response for r in chosen],
        },
    )
    row = await cursor.fetchone()
    assert row is not None
    return Applied(changed=row[0], parked=row[1])


_TAKE_PARKED_FOR = text(
    "DELETE FROM parked_receipts WHERE provider_reference = ANY(:refs) "
    "RETURNING provider_reference, status, carrier, provider_response"
)

_TAKE_MATCHED_PARKED = text(
    """
    DELETE FROM parked_receipts WHERE id IN (
        SELECT p.id FROM parked_receipts AS p
        WHERE EXISTS (SELECT 1 FROM notifications AS n
                      WHERE n.provider_reference = p.provider_reference AND n.provider_reference IS NOT NULL)
        ORDER BY p.id LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING provider_reference, status, carrier, provider_response
    """
)

_DROP_STALE_PARKED = text(
    "DELETE FROM parked_receipts WHERE id IN (SELECT id FROM parked_receipts "
    "WHERE received_at < now() - CAST(:hours AS double precision) * interval '1 hour' LIMIT :limit)"
)


def _receipts(rows: Sequence[Sequence[str | None]]) -> list[Receipt]:
    return [Receipt(str(r[0]), Status(str(r[1])), r[2], r[3]) for r in rows]


async def apply_parked_for(conn: AsyncConnection, references: Sequence[str]) -> int:
    """In the transaction that records these sends: apply receipts that arrived before it."""
    if not references:
        return 0
    taken = _receipts((await conn.execute(_TAKE_PARKED_FOR, {"refs": list(references)})).all())
    return (await apply_receipts(conn, taken)).changed if taken else 0


async def sweep_parked_receipts(conn: AsyncConnection, *, max_age_hours: float, limit: int = 10_000) -> tuple[int, int]:
    """Apply parked receipts whose send is now recorded, and drop ones no send ever claimed.

    ``apply_parked_for`` misses one race: a receipt parked by a transaction that commits after
    the recording transaction looked. This catches it on the next periodic run. Returns
    (applied, dropped); both are bounded per call so a backlog drains over several runs.
    """
    taken = _receipts((await conn.execute(_TAKE_MATCHED_PARKED, {"limit": limit})).all())
    applied = (await apply_receipts(conn, taken)).changed if taken else 0
    dropped = (await conn.execute(_DROP_STALE_PARKED, {"hours": max_age_hours, "limit": limit})).rowcount
    return applied, dropped
