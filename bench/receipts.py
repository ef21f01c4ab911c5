"""Apply delivery receipts: our one-statement batch applier against Notify.gov's 1,000-row CASE update.

Both approaches run in the same process, on the same database, against the same notifications,
alternately, so the machine's noise hits both. Each run:

1. resets the target notifications to 'sending' (outside the timing) and VACUUMs;
2. applies ``--receipts`` receipts (90% delivered, 6% permanent, 4% temporary failures, each with
   a carrier and a provider response) in transactions of ``--batch`` receipts;
3. checks every target notification ended with the expected status.

The anchor is Notify.gov's ``dao_update_delivery_receipts``: per batch of 1,000 receipts and per
status in it, one ``UPDATE notifications SET status = <status>, carrier = CASE WHEN
provider_reference = ... THEN ... END, provider_response = CASE ... WHERE
provider_reference IN (...)``. It neither moves statuses only forward, nor parks early receipts, nor queues
callbacks, so it does less than ours.

    .venv/bin/python bench/receipts.py                       # 100k receipts, 1M other rows, 3 runs
    .venv/bin/python bench/receipts.py --batch 1000,10000     # our applier at several batch sizes
    .venv/bin/python bench/receipts.py --concurrency 1,2      # one applier, then two at once
    .venv/bin/python bench/receipts.py --with-callbacks       # also: every service has a callback URL
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import BenchEnv, create_env, install_signal_handlers, log

from notify.db.engine import create_engine
from notify.receipts.apply import Receipt, apply_receipts
from notify.statuses import Status

TARGET = 100_000  # receipts/s, shared/DESIGN.md
ANCHOR_BATCH = 1_000
CARRIERS = ("Verizon Wireless", "AT&T Mobility", "T-Mobile USA", "US Cellular", "Cricket")
RESPONSES = {
    Status.delivered: "Message has been accepted by phone carrier",
    Status.permanent_failure: "Phone carrier has blocked this message",
    Status.temporary_failure: "Phone is currently unreachable/unavailable",
}


@dataclass
class Run:
    approach: str
    batch: int
    seconds: float

    def rate(self, count: int) -> float:
        return count / self.seconds


def make_receipts(count: int, seed: int) -> list[Receipt]:
    rng = random.Random(seed)
    receipts = []
    for n in range(count):
        roll = rng.random()
        status = Status.delivered if roll < 0.90 else Status.permanent_failure if roll < 0.96 else Status.temporary_failure
        receipts.append(Receipt(f"target-{n}", status, rng.choice(CARRIERS), RESPONSES[status]))
    rng.shuffle(receipts)  # sources deliver in no particular order
    return receipts


def seed_notifications(env: BenchEnv, targets: int, background: int) -> None:
    """Rows straight into the table (the send path is not what is measured); ids only, no recipients."""
    import psycopg

    with psycopg.connect(env.database_url, autocommit=True) as conn:
        template_id = conn.execute("SELECT id FROM templates LIMIT 1").fetchone()[0]  # type: ignore[index]
        for prefix, count, status in (("bg", background, "delivered"), ("target", targets, "sending")):
            t0 = time.perf_counter()
            conn.execute(
                """
                INSERT INTO notifications (id, service_id, job_id, job_row_number, job_kind, template_id,
                    template_version, notification_type, key_type, status, provider, provider_reference,
                    created_at, sent_at)
                SELECT gen_random_uuid(), %(service)s, md5(%(prefix)s || (n / 1000))::uuid, n %% 1000, 'api',
                       %(template)s, 1, 'sms', 'normal', %(status)s, 'aws-sns', %(prefix)s || '-' || n,
                       now() - (n %% 7) * interval '1 day', now() - (n %% 7) * interval '1 day'
                FROM generate_series(0, %(count)s - 1) AS n
                """,
                {"service": env.service_id, "template": template_id, "prefix": prefix, "status": status,
                 "count": count},
            )
            log(f"  {count:,} {prefix} notifications ({status}) in {time.perf_counter() - t0:.1f} s")
        conn.execute("VACUUM ANALYZE notifications")


def reset_targets(env: BenchEnv) -> None:
    import psycopg

    with psycopg.connect(env.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE notifications SET status = 'sending', carrier = NULL, provider_response = NULL, "
            "completed_at = NULL WHERE provider_reference LIKE 'target-%'"
        )
        conn.execute("TRUNCATE callback_outbox, parked_receipts")
        conn.execute("VACUUM ANALYZE notifications")


def check_targets(env: BenchEnv, receipts: Sequence[Receipt]) -> None:
    import psycopg

    expected: dict[str, int] = {}
    for r in receipts:
        expected[r.status.value] = expected.get(r.status.value, 0) + 1
    with psycopg.connect(env.database_url, autocommit=True) as conn:
        got = dict(conn.execute(  # type: ignore[arg-type]
            "SELECT status, count(*) FROM notifications WHERE provider_reference LIKE 'target-%' "
            "AND carrier IS NOT NULL AND provider_response IS NOT NULL GROUP BY status"
        ).fetchall())
    if got != expected:
        raise SystemExit(f"receipts were not all applied: expected {expected}, found {got}")


def _anchor_statements(batch: Sequence[Receipt]) -> list[tuple[str, dict[str, Any]]]:
    """Notify.gov's shape: per status, one UPDATE with a CASE per column over the batch's references.

    Notify.gov calls its DAO once for delivered and once for failed receipts, with the status a
    constant and CASE expressions for carrier, timestamp, provider response and price. We keep the
    carrier and provider response CASEs only: we have no price column, and sent_at is indexed here
    (the timeout sweep), which would make every anchor update non-HOT and flatter our figures.
    """
    by_status: dict[str, list[Receipt]] = {}
    for r in batch:
        by_status.setdefault(r.status.value, []).append(r)
    statements = []
    for status, receipts in by_status.items():
        params: dict[str, Any] = {"status": status}
        carrier_cases, response_cases, refs = [], [], []
        for i, r in enumerate(receipts):
            params[f"r{i}"], params[f"c{i}"], params[f"p{i}"] = r.provider_reference, r.carrier, r.provider_response
            carrier_cases.append(f"WHEN provider_reference = :r{i} THEN :c{i}")
            response_cases.append(f"WHEN provider_reference = :r{i} THEN :p{i}")
            refs.append(f":r{i}")
        statements.append((
            (f"UPDATE notifications SET status = :status, carrier = CASE {' '.join(carrier_cases)} END, "
             f"provider_response = CASE {' '.join(response_cases)} END "
             f"WHERE provider_reference IN ({', '.join(refs)})"),
            params,
        ))
    return statements


async def apply_ours(engine: Any, receipts: Sequence[Receipt], batch: int, concurrency: int = 1) -> None:
    """``concurrency`` appliers at once, each on its own connection, as several API processes
    (SNS webhook batchers) or workers would run them."""
    batches = [receipts[start : start + batch] for start in range(0, len(receipts), batch)]

    async def applier(mine: Sequence[Sequence[Receipt]]) -> None:
        for one in mine:
            async with engine.begin() as conn:
                await apply_receipts(conn, one)

    await asyncio.gather(*(applier(batches[i::concurrency]) for i in range(concurrency)))


async def apply_anchor(engine: Any, receipts: Sequence[Receipt], batch: int) -> None:
    from sqlalchemy import text

    # Building the statement text is inside the timing, for both: it was part of Notify.gov's cost.
    for start in range(0, len(receipts), batch):
        async with engine.begin() as conn:
            for sql, params in _anchor_statements(receipts[start : start + batch]):
                await conn.execute(text(sql), params)


def update_counts(env: BenchEnv) -> tuple[int, int]:
    """(updates, HOT updates) on notifications so far: a HOT update writes no index entries."""
    import psycopg

    with psycopg.connect(env.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'notifications'"
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def register_callbacks(env: BenchEnv) -> None:
    import psycopg

    with psycopg.connect(env.database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO service_callbacks (service_id, callback_type, url, bearer_token_encrypted) "
            "VALUES (%s, 'delivery_status', 'https://example.invalid/cb', '\\x00') ON CONFLICT DO NOTHING",
            (env.service_id,),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--receipts", type=int, default=100_000, help="receipts per run (default 100000)")
    parser.add_argument("--background", type=int, default=1_000_000,
                        help="other notifications in the table (default 1000000)")
    parser.add_argument("--batch", default="1000,10000", help="our batch sizes, comma-separated (default 1000,10000)")
    parser.add_argument("--concurrency", default="1,2",
                        help="appliers at once for our approach, comma-separated (default 1,2)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each approach; medians reported (default 3)")
    parser.add_argument("--with-callbacks", action="store_true",
                        help="register a callback for the service, so every final status queues one")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batch.split(",")]

    install_signal_handlers()
    env = create_env(keep=args.keep, prefix="notify-bench-receipts-")
    try:
        seed_notifications(env, args.receipts, args.background)
        if args.with_callbacks:
            register_callbacks(env)
            log("  a delivery-status callback is registered: every final status queues a callback")
        receipts = make_receipts(args.receipts, seed=7)
        concurrency = [int(c) for c in args.concurrency.split(",")]
        return asyncio.run(_measure(env, receipts, batches, concurrency, args.runs))
    finally:
        env.close()


async def _measure(env: BenchEnv, receipts: list[Receipt], batches: list[int], concurrency: list[int],
                   runs: int) -> int:
    engine = create_engine(env.database_url, pool_size=max(concurrency))
    approaches: list[tuple[str, int, Callable[[], Coroutine[Any, Any, None]]]] = [
        *[(f"ours: UPDATE … FROM unnest x{c}", b, lambda b=b, c=c: apply_ours(engine, receipts, b, c))  # type: ignore[misc]
          for c in concurrency for b in batches],
        ("anchor: Notify.gov CASE x1", ANCHOR_BATCH, lambda: apply_anchor(engine, receipts, ANCHOR_BATCH)),
    ]
    results: dict[tuple[str, int], list[Run]] = {(name, b): [] for name, b, _ in approaches}
    try:
        for run in range(1, runs + 1):
            for name, batch, go in approaches:
                reset_targets(env)
                await asyncio.sleep(1.2)  # PostgreSQL publishes table statistics about once a second
                before = update_counts(env)
                t0 = time.perf_counter()
                await go()
                elapsed = time.perf_counter() - t0
                check_targets(env, receipts)
                await asyncio.sleep(1.2)
                after = update_counts(env)
                updates, hot = after[0] - before[0], after[1] - before[1]
                results[(name, batch)].append(Run(name, batch, elapsed))
                log(f"run {run}: {name:<31} batch {batch:>6,}: {len(receipts) / elapsed:>9,.0f} receipts/s "
                    f"({elapsed:.2f} s; {hot / max(updates, 1):.0%} of {updates:,} row updates HOT)")
    finally:
        await engine.dispose()

    count = len(receipts)
    medians = {key: statistics.median(r.rate(count) for r in runs_) for key, runs_ in results.items()}
    anchor = medians[("anchor: Notify.gov CASE x1", ANCHOR_BATCH)]
    log("")
    log(f"medians of {runs} runs, {count:,} receipts each:")
    log(f"  {'approach (x appliers at once)':<31} {'batch':>7} {'receipts/s':>11} {'vs anchor':>9}")
    for (name, batch), rate in medians.items():
        log(f"  {name:<31} {batch:>7,} {rate:>11,.0f} {rate / anchor:>8.1f}x")
    best = max(rate for (name, _), rate in medians.items() if name.startswith("ours"))
    log(f"target >= {TARGET:,} receipts/s: {'MEETS' if best >= TARGET else 'BELOW'} (best of ours {best:,.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
