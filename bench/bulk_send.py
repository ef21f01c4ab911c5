"""Benchmark: a spreadsheet bulk send of 100,000 SMS rows, from upload to provider.

Targets (shared/DESIGN.md, Performance targets, this 2-core machine):

* upload + validation of a 100k-row CSV    >= 100,000 rows/s
* notifications created                    >= 100,000 rows/s
* sending, ONE ``notify worker``, simulated provider: >= 5,000 msg/s at 0 ms latency,
  >= 1,000 msg/s at 50 ms latency per message

Self-contained, like ``api_send.py``: an embedded PostgreSQL in a temp dir, migrations, a live
service (daily limit 10^9), an SMS template ``Hi ((name)), ref ((reference))`` and a normal API key
(``_server.create_env``); ``notify api`` and ``notify worker`` run as separate child processes
against it. Loopback only. Each upload is a freshly generated CSV (``phone number,name,reference``,
US numbers in nine layouts, a different set of numbers each time).

One *upload* per run and per provider latency (``--latencies``, default ``0,50``):

1. start ``notify worker`` with ``NOTIFY_SIMULATED_SEND_LATENCY_MS=<latency>`` and
   ``NOTIFY_SIMULATED_DELIVERY_DELAY_MS=0`` and wait until it has registered with the queue (it is then
   idle, waiting on LISTEN/NOTIFY);
2. **upload**: ``POST /v2/jobs`` (multipart, ``template_id`` before ``file``), body streamed from memory
   in ``--chunk`` byte writes; timed from the first byte of the request to the end of the 201;
3. **create**: from the 201 until the job's notifications exist (the worker's ``start_job`` task
   inserts them all and enqueues the delivery chunks in one transaction, so ``jobs.status`` leaving
   'pending' marks the commit; the count is then checked);
4. **send**: from the first notification claimed (``min(sent_at)``) until the job is 'finished'
   (``jobs.processing_finished``: the last chunk's provider references are recorded), both database
   timestamps; then it waits for the queue to drain (the simulated receipts) before stopping the worker.

Medians over ``--runs`` (default 3) are printed at the end: upload and create over every upload,
send per latency. Exits 0 whatever the result.

    .venv/bin/python bench/bulk_send.py
    .venv/bin/python bench/bulk_send.py --runs 1 --latencies 0 --worker-env NOTIFY_CLAIM_ROWS=1000
    .venv/bin/python bench/bulk_send.py --profile      # py-spy top frames of the API (upload) and worker (send)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import (
    ApiProcess,
    BenchEnv,
    PySpy,
    RssSampler,
    WorkerProcess,
    create_env,
    install_signal_handlers,
    log,
    reset_peak_rss,
    rss_kib,
    tree_cpu_seconds,
)

TARGET_UPLOAD_ROWS_S = 100_000
TARGET_CREATE_ROWS_S = 100_000
TARGET_SEND_MSG_S = {0: 5_000, 50: 1_000}
SMS_TEMPLATE = "Hi ((name)), ref ((reference))"
BOUNDARY = "notify-bench-" + uuid.uuid4().hex

FIRST_NAMES = ["Jane", "John", "Amira", "Chen", "Siobhan", "José", "Olu", "Priya", "Mark", "Zoë", "Ana", "Tom"]
LAST_NAMES = ["Smith", "O'Neil", "García", "Nguyen", "Okafor", "Kowalski", "Patel", "Jones", "Lee", "Brown"]
# Real area codes; any exchange 200-999 except N11 and 555 is valid in phonenumbers' US metadata, so
# the numbers vary widely (a validator cannot get by on a small cache). 425 is avoided: the
# simulated provider fails some +1 425 414 7xxx numbers on purpose.
AREA_CODES = ["202", "212", "312", "415", "617", "713", "206", "305", "404", "503", "303", "512", "614", "702", "801"]
US_LAYOUTS = [
    "({a}) {e}-{l}",
    "{a}.{e}.{l}",
    "+1 {a}-{e}-{l}",
    "{a}{e}{l}",
    "{a}-{e}-{l}",
    "1{a}{e}{l}",
    "+1 ({a}) {e}-{l}",
    "+1{a}{e}{l}",
    "1-{a}-{e}-{l}",
]


# --- the file --------------------------------------------------------------------------------------


def sms_csv(rows: int, seed: int) -> bytes:
    """``phone number,name,reference`` with ``rows`` data rows; ``seed`` picks a different set of numbers."""
    rng = random.Random(seed)
    out = ["phone number,name,reference"]
    for n in range(rows):
        exchange = rng.randrange(200, 1000)
        if exchange % 100 == 11 or exchange == 555:
            exchange += 1
        phone = rng.choice(US_LAYOUTS).format(a=rng.choice(AREA_CODES), e=f"{exchange:03d}", l=f"{rng.randrange(10000):04d}")
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if n % 50 == 0:
            name = f'"{name}, Jr"'  # some quoted fields with commas
        out.append(f"{phone},{name},REF-{seed:03d}-{n:07d}")
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


def multipart(template_id: uuid.UUID, csv_bytes: bytes, filename: str) -> bytes:
    head = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"template_id\"\r\n\r\n{template_id}\r\n"
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
        f"Content-Type: text/csv\r\n\r\n"
    ).encode()
    return head + csv_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()


# --- progress --------------------------------------------------------------------------------------


class Progress:
    """One status line: rewritten in place on a terminal, a plain line every few seconds otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.shown = False
        self.done()

    def show(self, text: str) -> None:
        now = time.monotonic()
        if now - self.last < (0.5 if self.tty else 5.0):
            return
        self.last = now
        if self.tty:
            sys.stdout.write("\r\033[K    " + text)
            sys.stdout.flush()
            self.shown = True
        else:
            log("    " + text)

    def done(self) -> None:
        if self.tty and self.shown:
            sys.stdout.write("\r\033[K")
            sys.stdout.flush()
        self.shown = False
        self.last = 0.0 if self.tty else time.monotonic()  # a log line only once a phase has taken 5 s


# --- results ---------------------------------------------------------------------------------------


@dataclass
class Upload:
    latency_ms: int
    rows: int = 0
    body_mb: float = 0.0
    upload_s: float = 0.0  # first request byte -> 201 read
    body_sent_s: float = 0.0  # first -> last request byte written (the server reads as it validates)
    upload_rows_s: float = 0.0
    api_rss_before_mb: float = 0.0
    api_peak_rss_mb: float = 0.0
    api_cpu_pct: float = 0.0
    pg_cpu_upload_pct: float = 0.0
    machine_upload_pct: float = 0.0  # whole machine, all processes (others' work included)
    create_s: float = 0.0  # 201 -> job seen 'in progress' (notifications committed)
    create_rows_s: float = 0.0
    pickup_s: float = 0.0  # job row committed -> start_job began (queue latency), DB clock
    insert_s: float = 0.0  # start_job began -> its commit observed
    created: int = 0
    create_wal_mb: float = 0.0  # WAL written from the 201 to the notifications' commit (whole cluster)
    send_s: float = 0.0  # min(sent_at) -> jobs.processing_finished, DB clock
    send_msg_s: float = 0.0
    sent: int = 0  # notifications with a provider reference
    failed: int = 0  # technical-failure (no reference)
    send_complete: bool = False
    worker_rss_idle_mb: float = 0.0
    worker_peak_rss_mb: float = 0.0
    worker_cpu_pct: float = 0.0
    pg_cpu_send_pct: float = 0.0
    machine_send_pct: float = 0.0
    send_wal_mb: float = 0.0  # WAL written while sending (whole cluster), receipts included
    send_updates: int = 0  # notification row updates while sending (pg_stat_user_tables, approximate)
    send_hot_pct: float = 0.0  # of those, heap-only (HOT) updates: no index entries written
    drain_s: float = 0.0  # last send -> task queue empty (receipts applied)
    delivered: int = 0
    error: str | None = None


def _mb(kib: int) -> float:
    return kib / 1024


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine from /proc/stat; busy excludes idle and iowait."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    return sum(values) - values[3] - values[4], sum(values)


def machine_pct(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Busy percent of one core between two samples (200 = both cores of a 2-core machine)."""
    total = b[1] - a[1]
    return 100 * (os.cpu_count() or 1) * (b[0] - a[0]) / total if total > 0 else 0.0


# --- one upload, end to end ------------------------------------------------------------------------


class BulkBench:
    def __init__(self, env: BenchEnv, api: ApiProcess, args: argparse.Namespace) -> None:
        import psycopg

        self.env, self.api, self.args = env, api, args
        self.db = psycopg.connect(env.database_url, autocommit=True)
        self.progress = Progress()
        self.uploads = 0

    def close(self) -> None:
        self.db.close()

    def wal_bytes(self) -> int:
        return int(self.q1("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")[0])

    def notification_updates(self) -> tuple[int, int]:
        """(row updates, HOT updates) of the notifications table so far; backends flush these about once a second."""
        self.db.execute("SELECT pg_stat_clear_snapshot()")
        upd, hot = self.q1("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'notifications'")
        return int(upd), int(hot)

    def q1(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        row = self.db.execute(sql, params).fetchone()
        assert row is not None
        return tuple(row)

    def one(self, latency_ms: int) -> Upload:
        args = self.args
        res = Upload(latency_ms)
        worker_env = {
            "NOTIFY_SIMULATED_SEND_LATENCY_MS": str(latency_ms),
            "NOTIFY_SIMULATED_DELIVERY_DELAY_MS": "0",
            **args.worker_env,
        }
        worker = WorkerProcess(self.env, extra_env=worker_env, name=f"worker-{latency_ms}ms")
        self.uploads += 1
        body = multipart(self.env.sms_template_id, sms_csv(args.rows, seed=self.uploads), f"bulk-{self.uploads}.csv")
        res.body_mb = len(body) / 1e6
        try:
            worker.start()
            reset_peak_rss(worker.pid)
            res.worker_rss_idle_mb = _mb(rss_kib(worker.pid)[0])
            job_id = self._upload(body, res)
            if job_id is None:
                return res
            t_created = self._wait_created(job_id, res)
            if t_created is None:
                return res
            self._wait_sent(job_id, worker, res, t_created)
            self._drain(res)
            res.worker_peak_rss_mb = _mb(rss_kib(worker.pid)[1])
        finally:
            self.progress.done()
            worker.stop()
        return res

    # phase 1 ---------------------------------------------------------------------------------------

    def _upload(self, body: bytes, res: Upload) -> uuid.UUID | None:
        args = self.args
        pid = self.api.pid
        reset_peak_rss(pid)
        res.api_rss_before_mb = _mb(rss_kib(pid)[0])
        conn = http.client.HTTPConnection("127.0.0.1", self.api.port, timeout=args.upload_timeout)
        conn.connect()
        view = memoryview(body)
        per_row = len(body) / (args.rows + 1)
        spy = PySpy(pid, self.env.tmp / f"api-upload-{self.uploads}.folded") if args.profile else None
        cpu0 = (tree_cpu_seconds(pid), tree_cpu_seconds(self.env.postmaster_pid()), time.perf_counter())
        jiffies0 = machine_jiffies()
        with RssSampler(pid, interval=0.02) as rss:
            if spy is not None:
                spy.__enter__()
            try:
                t0 = time.perf_counter()
                conn.putrequest("POST", "/v2/jobs", skip_accept_encoding=True)
                conn.putheader("Authorization", self.env.auth_header())
                conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
                conn.putheader("Content-Length", str(len(body)))
                conn.putheader("User-Agent", "NOTIFY-API-PYTHON-CLIENT/bench")
                conn.endheaders()
                for start in range(0, len(body), args.chunk):
                    conn.send(view[start : start + args.chunk])
                    if time.perf_counter() - t0 > args.upload_timeout:
                        raise TimeoutError("upload timed out")
                    self.progress.show(f"upload: {int(start / per_row):>7,} rows sent")
                t_sent = time.perf_counter()
                resp = conn.getresponse()
                data = resp.read()
                t1 = time.perf_counter()
            except (OSError, http.client.HTTPException) as exc:
                res.error = f"upload failed: {exc!r}"
                return None
            finally:
                conn.close()
                if spy is not None:
                    spy.__exit__(None, None, None)
        cpu1 = (tree_cpu_seconds(pid), tree_cpu_seconds(self.env.postmaster_pid()), time.perf_counter())
        res.machine_upload_pct = machine_pct(jiffies0, machine_jiffies())
        self.progress.done()
        if spy is not None:
            log(spy.top())
        wall = cpu1[2] - cpu0[2]
        res.api_cpu_pct = 100 * (cpu1[0] - cpu0[0]) / wall
        res.pg_cpu_upload_pct = 100 * (cpu1[1] - cpu0[1]) / wall
        res.upload_s, res.body_sent_s = t1 - t0, t_sent - t0
        res.api_peak_rss_mb = _mb(max(rss_kib(pid)[1], rss.peak))
        if resp.status != 201:
            res.error = f"upload: {resp.status} {data[:400].decode(errors='replace')}"
            return None
        job = json.loads(data)["data"]
        res.rows = int(job["row_count"])
        res.upload_rows_s = res.rows / res.upload_s
        return uuid.UUID(job["id"])

    # phase 2 ---------------------------------------------------------------------------------------

    def _wait_created(self, job_id: uuid.UUID, res: Upload) -> float | None:
        wal0 = self.wal_bytes()
        t0 = time.perf_counter()
        deadline = t0 + self.args.create_timeout
        while True:
            (status,) = self.q1("SELECT status::text FROM jobs WHERE id = %s", (job_id,))
            now = time.perf_counter()
            if status not in ("pending", "scheduled"):
                break
            if now > deadline:
                res.error = f"notifications not created within {self.args.create_timeout:g} s (job {status})"
                return None
            self.progress.show(f"create: waiting for start_job ({now - t0:.1f} s)")
            time.sleep(0.005)
        self.progress.done()
        res.create_wal_mb = (self.wal_bytes() - wal0) / 1e6
        res.create_s = now - t0
        pickup, since_start = self.q1(
            "SELECT extract(epoch FROM processing_started - created_at), "
            "extract(epoch FROM clock_timestamp() - processing_started) FROM jobs WHERE id = %s",
            (job_id,),
        )
        res.pickup_s = float(pickup)
        # start_job's transaction began `since_start` ago; its commit was seen `perf_counter() - now` ago
        res.insert_s = max(0.0, float(since_start) - (time.perf_counter() - now))
        (res.created,) = self.q1("SELECT count(*) FROM notifications WHERE job_id = %s", (job_id,))
        res.create_rows_s = res.created / res.create_s if res.create_s else 0.0
        if res.created != res.rows:
            res.error = f"{res.created} notifications for {res.rows} rows"
        if self.args.analyze:
            self.db.execute("ANALYZE notifications")  # diagnostic: fresh planner statistics before sending
        return now

    # phase 3 ---------------------------------------------------------------------------------------

    def _wait_sent(self, job_id: uuid.UUID, worker: WorkerProcess, res: Upload, t_start: float) -> None:
        args = self.args
        pg = self.env.postmaster_pid()
        wal0, upd0 = self.wal_bytes(), self.notification_updates()
        cpu0 = (tree_cpu_seconds(worker.pid), tree_cpu_seconds(pg), time.perf_counter())
        jiffies0 = machine_jiffies()
        spy = PySpy(worker.pid, self.env.tmp / f"worker-send-{self.uploads}.folded") if args.profile else None
        deadline = t_start + args.send_timeout
        last_progress = 0.0
        done_rows = 0
        sampler = None
        if args.sample_pg:
            from api_send import (
                PgSampler,  # diagnostic only: what PostgreSQL's backends wait on
            )

            sampler = PgSampler(self.env).__enter__()
        if spy is not None:
            spy.__enter__()
        try:
            while True:
                (status,) = self.q1("SELECT status::text FROM jobs WHERE id = %s", (job_id,))
                now = time.perf_counter()
                if status in ("finished", "cancelled"):
                    res.send_complete = status == "finished"
                    break
                if worker.pid is None:
                    res.error = f"worker exited:\n{worker.log_tail()}"
                    break
                if now > deadline:
                    res.error = f"send not finished within {args.send_timeout:g} s"
                    break
                if now - last_progress >= 1.0:  # job_chunks is ~100 rows: cheap, unlike counting notifications
                    (done_rows,) = self.q1(
                        "SELECT coalesce(sum(last_row - first_row + 1) FILTER (WHERE done), 0) FROM job_chunks "
                        "WHERE job_id = %s", (job_id,))
                    last_progress = now
                    self.progress.show(f"send ({res.latency_ms} ms): {int(done_rows):>7,} / {res.rows:,} rows, "
                                       f"{now - t_start:.0f} s")
                time.sleep(0.05)
        finally:
            if spy is not None:
                spy.__exit__(None, None, None)
            if sampler is not None:
                sampler.__exit__(None, None, None)
        cpu1 = (tree_cpu_seconds(worker.pid), tree_cpu_seconds(pg), time.perf_counter())
        res.machine_send_pct = machine_pct(jiffies0, machine_jiffies())
        res.send_wal_mb = (self.wal_bytes() - wal0) / 1e6
        self.progress.done()
        if spy is not None:
            log(spy.top())
        if sampler is not None:
            log(sampler.report())
        wall = cpu1[2] - cpu0[2]
        res.worker_cpu_pct = 100 * (cpu1[0] - cpu0[0]) / wall
        res.pg_cpu_send_pct = 100 * (cpu1[1] - cpu0[1]) / wall
        first, finished, sent, failed = self.q1(
            "SELECT extract(epoch FROM min(n.sent_at)), extract(epoch FROM j.processing_finished), "
            "count(*) FILTER (WHERE n.provider_reference IS NOT NULL), "
            "count(*) FILTER (WHERE n.status = 'technical-failure' AND n.provider_reference IS NULL) "
            "FROM notifications n JOIN jobs j ON j.id = n.job_id WHERE n.job_id = %s GROUP BY j.processing_finished",
            (job_id,),
        )
        res.sent, res.failed = int(sent), int(failed)
        if first is not None:
            end = float(finished) if finished is not None else time.time()
            res.send_s = end - float(first)
            res.send_msg_s = res.sent / res.send_s if res.send_s > 0 else 0.0
        self._job_id = job_id
        self._upd0 = upd0

    def _drain(self, res: Upload) -> None:
        """Wait until the worker has nothing queued (the simulated receipts), so the next upload starts clean."""
        t0 = time.perf_counter()
        deadline = t0 + self.args.drain_timeout
        while time.perf_counter() < deadline:
            (pending,) = self.q1("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
            if not pending:
                break
            self.progress.show(f"draining: {pending} queued tasks (receipts)")
            time.sleep(0.1)
        res.drain_s = time.perf_counter() - t0
        time.sleep(1.5)  # backends flush table statistics about once a second
        upd1 = self.notification_updates()
        res.send_updates = upd1[0] - self._upd0[0]
        res.send_hot_pct = 100 * (upd1[1] - self._upd0[1]) / res.send_updates if res.send_updates else 0.0
        (res.delivered,) = self.q1(
            "SELECT count(*) FROM notifications WHERE job_id = %s AND status = 'delivered'", (self._job_id,))


# --- reporting -------------------------------------------------------------------------------------


def fmt_upload(r: Upload) -> str:
    return (
        f"upload {r.upload_s:5.2f} s = {r.upload_rows_s:8,.0f} rows/s ({r.body_mb:.1f} MB; body written in "
        f"{r.body_sent_s:.2f} s; cpu% api {r.api_cpu_pct:.0f} pg {r.pg_cpu_upload_pct:.0f} machine {r.machine_upload_pct:.0f}/{100 * (os.cpu_count() or 1)}; api RSS "
        f"{r.api_rss_before_mb:.0f} -> peak {r.api_peak_rss_mb:.0f} MB)"
    )


def fmt_create(r: Upload) -> str:
    return (
        f"create {r.create_s:5.2f} s = {r.create_rows_s:8,.0f} rows/s ({r.created:,} notifications; queue pickup "
        f"{r.pickup_s:.2f} s, insert+commit {r.insert_s:.2f} s; WAL {r.create_wal_mb:.0f} MB)"
    )


def fmt_send(r: Upload) -> str:
    return (
        f"send   {r.send_s:5.2f} s = {r.send_msg_s:8,.0f} msg/s at {r.latency_ms} ms ({r.sent:,} sent, {r.failed} failed"
        f"{'' if r.send_complete else ', INCOMPLETE'}; cpu% worker {r.worker_cpu_pct:.0f} pg {r.pg_cpu_send_pct:.0f} machine {r.machine_send_pct:.0f}/{100 * (os.cpu_count() or 1)}; "
        f"worker RSS {r.worker_rss_idle_mb:.0f} -> peak {r.worker_peak_rss_mb:.0f} MB; receipts drained "
        f"{r.drain_s:.1f} s later, {r.delivered:,} delivered; WAL {r.send_wal_mb:.0f} MB while sending, "
        f"{r.send_updates / max(r.sent, 1):.1f} row updates/msg incl. receipts, {r.send_hot_pct:.0f}% HOT)"
    )


def set_pg(env: BenchEnv, settings: list[str]) -> None:
    """ALTER DATABASE <current> SET name = value: applies to every connection opened afterwards."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(env.database_url, autocommit=True) as conn:
        (db,) = conn.execute("SELECT current_database()").fetchone()  # type: ignore[misc]
        for item in settings:
            name, _, value = item.partition("=")
            if not name.replace("_", "").replace(".", "").isalnum() or not value:
                raise SystemExit(f"--pg-set takes NAME=VALUE, not {item!r}")
            conn.execute(sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                sql.Identifier(db), sql.Identifier(*name.split(".")), sql.Literal(value)))
            log(f"  PostgreSQL: {name} = {value} for new connections")


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def verdict(ok: bool) -> str:
    return "MEETS" if ok else "BELOW"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="data rows per file (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; medians are reported (default 3)")
    parser.add_argument("--latencies", default="0,50",
                        help="simulated provider latencies in ms, one upload each per run (default 0,50)")
    parser.add_argument("--chunk", type=int, default=64 * 1024, help="upload write size in bytes (default 65536)")
    parser.add_argument("--api-env", action="append", default=[], metavar="NOTIFY_X=VALUE",
                        help="extra environment for notify api (repeatable)")
    parser.add_argument("--worker-env", action="append", default=[], metavar="NOTIFY_X=VALUE",
                        help="extra environment for notify worker, e.g. NOTIFY_CLAIM_ROWS=1000 (repeatable)")
    parser.add_argument("--upload-timeout", type=float, default=120, help="seconds (default 120)")
    parser.add_argument("--create-timeout", type=float, default=120, help="seconds (default 120)")
    parser.add_argument("--send-timeout", type=float, default=300, help="seconds per send phase (default 300)")
    parser.add_argument("--drain-timeout", type=float, default=120, help="seconds to wait for receipts (default 120)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the API during each upload and the worker during each send; print top frames")
    parser.add_argument("--sample-pg", action="store_true",
                        help="diagnostic: sample pg_stat_activity every 20 ms while sending; print what backends wait on")
    parser.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                        help="diagnostic: ALTER DATABASE ... SET a PostgreSQL setting for every connection, "
                        "e.g. synchronous_commit=off (repeatable)")
    parser.add_argument("--analyze", action="store_true",
                        help="diagnostic: ANALYZE notifications as soon as they exist (before sending ramps up), "
                        "to show what stale planner statistics cost")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, objects, logs, profiles)")
    parser.add_argument("--json", action="store_true", help="print the medians as one JSON line at the end")
    args = parser.parse_args(argv)
    try:
        latencies = [int(x) for x in args.latencies.split(",") if x.strip()]
    except ValueError:
        parser.error("--latencies takes a comma list of milliseconds, e.g. 0,50")
    if args.runs < 1 or not 1 <= args.rows <= 10_000_000 or not latencies or args.chunk < 1024:
        parser.error("runs >= 1, rows 1..10^7, at least one latency, chunk >= 1024")
    for name in ("api_env", "worker_env"):
        try:
            pairs = dict(item.split("=", 1) for item in getattr(args, name))
        except ValueError:
            parser.error(f"--{name.replace('_', '-')} takes NAME=VALUE")
        if any(not key.startswith("NOTIFY_") for key in pairs):
            parser.error(f"--{name.replace('_', '-')} only passes NOTIFY_* settings")
        setattr(args, name, pairs)
    if args.rows > 100_000:
        args.api_env.setdefault("NOTIFY_MAX_UPLOAD_ROWS", str(args.rows))
    if args.profile and not PySpy.available():
        parser.error("--profile needs py-spy (pip install py-spy into the venv)")
    install_signal_handlers()

    log(f"bulk send benchmark: {args.rows:,}-row SMS file, {args.runs} run(s) x latencies {latencies} ms, "
        f"{os.cpu_count()} CPUs" + (f", API env {args.api_env}" if args.api_env else "")
        + (f", PostgreSQL {args.pg_set}" if args.pg_set else "")
        + (", ANALYZE after create" if args.analyze else "")
        + (f", worker env {args.worker_env}" if args.worker_env else ""))
    env = create_env(keep=args.keep, prefix="notify-bulk-", sms_template=SMS_TEMPLATE)
    api = ApiProcess(env, extra_env=args.api_env)
    bench: BulkBench | None = None
    results: list[Upload] = []
    try:
        if args.pg_set:
            set_pg(env, args.pg_set)
        log(f"starting notify api on port {api.port} ...")
        api.start()
        bench = BulkBench(env, api, args)
        for run in range(args.runs):
            for latency in latencies:
                log(f"run {run + 1}/{args.runs}, provider latency {latency} ms:")
                r = bench.one(latency)
                results.append(r)
                if r.upload_s:
                    log(f"    {fmt_upload(r)}")
                if r.create_s:
                    log(f"    {fmt_create(r)}")
                if r.send_s:
                    log(f"    {fmt_send(r)}")
                if r.error:
                    log(f"    error: {r.error}")
    except KeyboardInterrupt:
        log("\ninterrupted; cleaning up")
        return 130
    finally:
        if bench is not None:
            bench.close()
        api.stop()
        env.close()

    log("")
    log(f"medians over {args.runs} run(s), {args.rows:,} rows"
        + (f", worker env {args.worker_env}" if args.worker_env else "") + ":")
    uploaded = [r for r in results if r.upload_s and r.rows]
    created = [r for r in uploaded if r.create_s]
    summary: dict[str, Any] = {"benchmark": "bulk_send", "rows": args.rows, "runs": args.runs,
                               "worker_env": args.worker_env, "api_env": args.api_env}
    up = med([r.upload_rows_s for r in uploaded])
    cr = med([r.create_rows_s for r in created])
    log(f"  upload + validation: {up:9,.0f} rows/s  (median {med([r.upload_s for r in uploaded]):.2f} s over "
        f"{len(uploaded)} uploads; API peak RSS {med([r.api_peak_rss_mb for r in uploaded]):.0f} MB, "
        f"{med([r.api_rss_before_mb for r in uploaded]):.0f} MB before)"
        f"  -> {verdict(up >= TARGET_UPLOAD_ROWS_S)} target {TARGET_UPLOAD_ROWS_S:,}")
    log(f"  notifications created: {cr:7,.0f} rows/s  (median {med([r.create_s for r in created]):.2f} s from the 201: "
        f"queue pickup {med([r.pickup_s for r in created]):.2f} s + insert/commit {med([r.insert_s for r in created]):.2f} s)"
        f"  -> {verdict(cr >= TARGET_CREATE_ROWS_S)} target {TARGET_CREATE_ROWS_S:,}")
    summary.update(upload_rows_s=up, create_rows_s=cr,
                   api_peak_rss_mb=med([r.api_peak_rss_mb for r in uploaded]),
                   upload_s=med([r.upload_s for r in uploaded]), create_s=med([r.create_s for r in created]))
    summary["send"] = {}
    for latency in latencies:
        sends = [r for r in results if r.latency_ms == latency and r.send_s]
        rate = med([r.send_msg_s for r in sends])
        target = TARGET_SEND_MSG_S.get(latency)
        complete = all(r.send_complete for r in sends) and len(sends) == args.runs
        log(f"  send at {latency:>3} ms: {rate:9,.0f} msg/s  (median {med([r.send_s for r in sends]):.1f} s for "
            f"{med([r.sent for r in sends]):,.0f} messages; cpu% worker {med([r.worker_cpu_pct for r in sends]):.0f} "
            f"pg {med([r.pg_cpu_send_pct for r in sends]):.0f} machine {med([r.machine_send_pct for r in sends]):.0f}; "
            f"worker peak RSS "
            f"{med([r.worker_peak_rss_mb for r in sends]):.0f} MB)"
            + ("" if complete else " [some runs incomplete]")
            + (f"  -> {verdict(rate >= target and complete)} target {target:,}" if target else ""))
        summary["send"][str(latency)] = {
            "msg_s": rate, "send_s": med([r.send_s for r in sends]), "complete": complete,
            "worker_peak_rss_mb": med([r.worker_peak_rss_mb for r in sends]),
            "worker_cpu_pct": med([r.worker_cpu_pct for r in sends]), "pg_cpu_pct": med([r.pg_cpu_send_pct for r in sends]),
            "meets_target": bool(target and rate >= target and complete),
        }
    errors = [r.error for r in results if r.error]
    if errors:
        log(f"  {len(errors)} error(s); first: {errors[0]}")
    if args.json:
        summary["runs_detail"] = [asdict(r) for r in results]
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
