"""The batch applier: every receipt source (provider webhooks, log pollers, the simulator) ends here.

One UPDATE per batch, keyed by the indexed provider reference.  Statuses only move forward
(notify.statuses.RANK), so duplicates and out-of-order receipts are harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from notify.statuses import FINAL, RANK, Status


@dataclass(frozen=True, slots=True)
class Receipt:
    provider_reference: str
    status: Status
    carrier: str | None = None
    provider_response: str | None = None


def _rank_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{status.value}' THEN {rank}" for status, rank in RANK.items())
    return f"(CASE {column} {cases} ELSE -1 END)"


_FINAL_SQL = ", ".join(f"'{s.value}'" for s in FINAL)

_APPLY = text(
    f"""
    UPDATE notifications AS n
    SET status = r.status,
        carrier = COALESCE(r.carrier, n.carrier),
        provider_response = COALESCE(r.response, n.provider_response),
        completed_at = CASE WHEN r.status IN ({_FINAL_SQL}) THEN now() ELSE n.completed_at END,
        updated_at = now()
    FROM unnest(CAST(:refs AS text[]), CAST(:statuses AS text[]), CAST(:carriers AS text[]),
                CAST(:responses AS text[])) AS r(ref, status, carrier, response)
    WHERE n.provider_reference = r.ref
      AND {_rank_sql('r.status')} > {_rank_sql('n.status')}
    """
)


async def apply_receipts(conn: AsyncConnection, receipts: Sequence[Receipt]) -> int:
    """Apply a batch; returns how many notifications changed. The caller owns the transaction."""
    best: dict[str, Receipt] = {}
    for receipt in receipts:
        seen = best.get(receipt.provider_reference)
        if seen is None or RANK[receipt.status] > RANK[seen.status]:
            best[receipt.provider_reference] = receipt
    if not best:
        return 0
    chosen = list(best.values())
    result = await conn.execute(
        _APPLY,
        {
            "refs": [r.provider_reference for r in chosen],
            "statuses": [r.status.value for r in chosen],
            "carriers": [r.carrier for r in chosen],
            "responses": [r.provider_response for r in chosen],
        },
    )
    return result.rowcount
