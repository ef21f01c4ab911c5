"""Claiming due callbacks from the outbox, and recording what became of them.

A claim is a lease, committed before any POST: the claimed rows' ``next_attempt_at`` moves past
the time a round can take, so other workers skip them (SKIP LOCKED while the claim commits, the
future time after), and if this worker dies its rows simply fall due again when the lease ends.
The claim also counts the attempt, so a callback that kills its worker every time is still
given up after ``max_attempts`` instead of looping forever.

Delivery is at least once: a worker that dies after a POST succeeded but before the row was
deleted sends that callback again. GOV.UK Notify behaves the same; receivers de-duplicate by id.
Rows hold ids and counts only; the recipient is read from storage when the POST is built.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from notify.callbacks.outbox import DELIVERY_STATUS


@dataclass(frozen=True, slots=True)
class NotificationFacts:
    """What the callback body says about a notification, besides its recipient."""

    job_id: uuid.UUID
    job_row_number: int
    client_reference: str | None
    status: str
    created_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None
    notification_type: str
    template_id: uuid.UUID
    template_version: int


@dataclass(frozen=True, slots=True)
class Due:
    """One claimed callback: the outbox row, its notification (None once retention deleted it)
    and the service's callback (None once it was removed)."""

    notification_id: uuid.UUID
    service_id: uuid.UUID
    attempt: int  # this attempt's number, from 1
    notification: NotificationFacts | None
    # Kept out of reprs: a URL's query string and the token are the service's secrets.
    url: str | None = field(repr=False)
    token_encrypted: bytes | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Retry:
    notification_id: uuid.UUID
    attempt: int
    delay_seconds: float
    error: str


_CLAIM = text(
    """
    WITH due AS (
        SELECT notification_id FROM callback_outbox
        WHERE next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ),
    claimed AS (
        UPDATE callback_outbox AS o
        SET attempts = o.attempts + 1,
            next_attempt_at = now() + CAST(:lease AS double precision) * interval '1 second'
        FROM due WHERE o.notification_id = due.notification_id
        RETURNING o.notification_id, o.service_id, o.attempts
    )
    SELECT c.notification_id, c.service_id, c.attempts, n.id IS NOT NULL,
           n.job_id, n.job_row_number, n.client_reference, n.status, n.created_at, n.sent_at, n.completed_at,
           n.notification_type, n.template_id, n.template_version,
           s.url, s.bearer_token_encrypted
    FROM claimed AS c
    LEFT JOIN notifications AS n ON n.id = c.notification_id
    LEFT JOIN service_callbacks AS s ON s.service_id = c.service_id AND s.callback_type = :type
    """
)

_DELETE = text("DELETE FROM callback_outbox WHERE notification_id = ANY(:ids)")

# Only rows still under this attempt's claim: if the lease ran out and another worker took the
# row, that worker decides what happens to it.
_GIVE_UP = text(
    """
    DELETE FROM callback_outbox AS o
    USING unnest(CAST(:ids AS uuid[]), CAST(:attempts AS int[])) AS r(id, attempt)
    WHERE o.notification_id = r.id AND o.attempts = r.attempt
    """
)

_RESCHEDULE = text(
    """
    UPDATE callback_outbox AS o
    SET next_attempt_at = now() + r.delay * interval '1 second', last_error = r.error
    FROM unnest(CAST(:ids AS uuid[]), CAST(:attempts AS int[]), CAST(:delays AS double precision[]),
                CAST(:errors AS text[])) AS r(id, attempt, delay, error)
    WHERE o.notification_id = r.id AND o.attempts = r.attempt
    """
)


async def claim_due(engine: AsyncEngine, *, limit: int, lease_seconds: float) -> list[Due]:
    """Lease up to ``limit`` due callbacks in one short committed transaction, oldest due first."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(_CLAIM, {"limit": limit, "lease": lease_seconds, "type": DELIVERY_STATUS})
        ).all()
    return [
        Due(
            notification_id=r[0],
            service_id=r[1],
            attempt=r[2],
            notification=NotificationFacts(*r[4:14]) if r[3] else None,
            url=r[14],
            token_encrypted=r[15],
        )
        for r in rows
    ]


async def record_outcomes(
    engine: AsyncEngine,
    *,
    done: Sequence[uuid.UUID],
    given_up: Sequence[tuple[uuid.UUID, int]],
    retries: Sequence[Retry],
) -> None:
    """Delete what was delivered or given up, push retries back; one transaction for the round."""
    if not (done or given_up or retries):
        return
    async with engine.begin() as conn:
        if done:
            await conn.execute(_DELETE, {"ids": list(done)})
        if given_up:
            await conn.execute(
                _GIVE_UP, {"ids": [i for i, _ in given_up], "attempts": [a for _, a in given_up]}
            )
        if retries:
            await conn.execute(
                _RESCHEDULE,
                {
                    "ids": [r.notification_id for r in retries],
                    "attempts": [r.attempt for r in retries],
                    "delays": [r.delay_seconds for r in retries],
                    "errors": [r.error[:255] for r in retries],
                },
            )
