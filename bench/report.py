"""Benchmark: streamed delivery reports, ``GET /v2/reports/notifications.csv``, at 100k and 1M rows.

Targets (shared/DESIGN.md, Performance targets, this 2-core machine), local store:

* >= 500,000 rows/s end to end, i.e. 1M rows in <= 2 s
* first byte <= 300 ms
* peak RSS growth of the serving process <= 50 MB from a 100k-row to a 1M-row report

Anchors: Notify.gov ~3 min for a 5k-row report, capped at 20k rows and rebuilt nightly; GOV.UK
Notify up to 250k rows synchronously, 800k rows asynchronously "up to 5 minutes".

The data (``--seed`` makes it reproducible): ONE live service with ``--jobs`` (200) spreadsheet jobs of
``--job-rows`` (5,000) SMS rows and ``--api-sends`` (50,000) API sends, spread over the last 7 days so
that ``--recent-jobs`` (19) jobs and ``--recent-api`` (5,000) API sends, i.e. 100,000 rows, fall in the
last day. It is built in this process through the real code paths (``_server.create_env`` first):

1. uploads: ``notify.jobs.intake.accept_upload`` (streamed validation, object-store write, job row),
   then ``notify.jobs.processing.start_job`` (one INSERT ... SELECT per job; no delivery tasks are
   enqueued, nothing is delivered);
2. API sends: ``notify.sending.submit.submit_send`` (validation, rendering) into the group committer
   (``notify.sending.group_commit``) in waves of ``--api-wave`` (50) concurrent sends, so every batch
   object holds 50 recipients (1,000 objects), as 50 concurrent API clients would give;
3. one UPDATE per job (in row order, as receipts would write them) spreads created_at over 7 days and
   sets a status mix (delivered / permanent-failure / temporary-failure / sending) with carrier and
   carrier response; then VACUUM ANALYZE.

For ``s3`` the objects are copied byte for byte, same keys, into a bucket on moto's server (a child
process, ``_server.MotoServer``), and the API is pointed at it; the database is shared, so both
stores serve exactly the same report.

Each measured request gets a fresh ``notify api`` process (so peak RSS is per report), one warm-up
request (an empty report), then the report, read by a raw HTTP/1.1 client that discards the body and
counts rows (b"\\n"). Medians over ``--runs`` (default 3).

    .venv/bin/python bench/report.py                      # local and s3, 3 runs, py-spy profile of one 1M run
    .venv/bin/python bench/report.py --stores local --runs 1 --no-profile
    .venv/bin/python bench/report.py --jobs 20 --api-sends 5000 --recent-jobs 2 --recent-api 500   # small, quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import (
    ApiProcess,
    BenchEnv,
    MotoServer,
    PySpy,
    RssSampler,
    create_env,
    install_signal_handlers,
    log,
    pyspy_samples,
    reset_peak_rss,
    rss_kib,
    short_frame,
    tree_cpu_seconds,
)
from bulk_send import SMS_TEMPLATE, sms_csv  # the same seeded spreadsheet generator

TARGET_ROWS_S = 500_000
TARGET_FIRST_BYTE_MS = 300.0
TARGET_RSS_GROWTH_MB = 50.0
BUCKET = "notify-bench-reports"
PATH_7D = "/v2/reports/notifications.csv?days=7"
PATH_1D = "/v2/reports/notifications.csv?days=1"
WARMUP_PATH = "/v2/reports/notifications.csv?days=1&template_type=email"  # no rows: warms auth, pool, route
MISSING_MARKER = b"[not available"

# Realistic-looking carrier data (AWS End User Messaging SMS wording); never recipients.
CARRIERS = ("AT&T", "Verizon Wireless", "T-Mobile", "US Cellular")
RESPONSES = {
    "delivered": ("Message has been accepted by phone",),
    "permanent-failure": ("Invalid phone number", "Phone has blocked SMS", "Destination is on a blocked list"),
    "temporary-failure": ("Phone is currently unreachable/unavailable", "Phone carrier is currently unreachable/unavailable"),
}


# --- data ------------------------------------------------------------------------------------------


@dataclass
class DataPlan:
    rows_7d: int = 0
    rows_1d: int = 0
    upload_jobs: int = 0
    api_objects: int = 0
    build_s: dict[str, float] = field(default_factory=dict)


def phone_for(rng: random.Random) -> str:
    exchange = rng.randrange(200, 1000)
    if exchange % 100 == 11 or exchange == 555:
        exchange += 1
    return f"+1 {rng.choice(('202', '212', '312', '415', '617', '713'))}-{exchange:03d}-{rng.randrange(10000):04d}"


async def _chunks(data: bytes, size: int = 1 << 16) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _no_delivery(conn: Any, job_id: uuid.UUID, first_row: int, last_row: int) -> None:
    """start_job's chunk hook: nothing is delivered in this benchmark, so no delivery tasks."""


async def build_data(env: BenchEnv, args: argparse.Namespace) -> DataPlan:
    from sqlalchemy import text

    from notify.catalogue.services import get_service
    from notify.config import LogFormat, load_settings
    from notify.db.models import KeyType, TemplateType
    from notify.jobs.intake import UploadRequest, accept_upload
    from notify.jobs.processing import start_job
    from notify.log_config import configure_logging
    from notify.runtime import open_runtime
    from notify.sending.submit import SendRequest, submit_send

    configure_logging(LogFormat.console, "WARNING")
    settings = load_settings(
        database_url=env.database_url, storage_url=env.objects_dir.resolve().as_uri(), secret_key=env.secret_key,
        data_dir=env.data_dir, log_level="WARNING",
    )
    plan = DataPlan()
    rng = random.Random(args.seed)
    upload_ids: list[uuid.UUID] = []
    api_ids: list[uuid.UUID] = []
    async with open_runtime(settings) as runtime:
        async with runtime.engine.connect() as conn:
            service = await get_service(conn, env.service_id)
            api_key_id = (
                await conn.execute(text("SELECT id FROM api_keys WHERE service_id = :s"), {"s": env.service_id})
            ).scalar_one()

        # 1. spreadsheets: accept_upload, then start_job (overlapped with the next upload's validation)
        t0 = time.perf_counter()
        starting: set[asyncio.Task[bool]] = set()
        for i in range(args.jobs):
            data = sms_csv(args.job_rows, args.seed * 100_000 + i)
            job = await accept_upload(
                runtime, service, api_key_id, KeyType.normal,
                UploadRequest(template_id=env.sms_template_id, file_name=f"bench-week-{i:03d}.csv"), _chunks(data),
            )
            upload_ids.append(job.id)
            starting.add(asyncio.ensure_future(
                start_job(runtime.engine, runtime.store, job.id, settings.chunk_rows, _no_delivery)))
            if len(starting) >= 2:
                done, starting = await asyncio.wait(starting, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            if (i + 1) % 20 == 0 or i + 1 == args.jobs:
                rows = (i + 1) * args.job_rows
                log(f"    uploads: {i + 1}/{args.jobs} jobs, {rows:,} rows "
                    f"({rows / (time.perf_counter() - t0):,.0f} rows/s uploaded and started)")
        for task in starting:
            assert await task, "start_job did nothing"
        plan.build_s["uploads"] = time.perf_counter() - t0

        # 2. API sends through the real submit path and the group committer, in waves
        t0 = time.perf_counter()
        sent = 0
        while sent < args.api_sends:
            wave = min(args.api_wave, args.api_sends - sent)
            requests = [
                SendRequest(
                    notification_type=TemplateType.sms, recipient=phone_for(rng), template_id=env.sms_template_id,
                    personalisation={"name": f"Person {sent + k}", "reference": f"A{(sent + k) * 7919 % 1_000_000:06d}"},
                    reference=f"api-{sent + k:06d}", sender_id=None,
                )
                for k in range(wave)
            ]
            results = await asyncio.gather(
                *(submit_send(runtime, service, api_key_id, KeyType.normal, r) for r in requests)
            )
            api_ids.extend(dict.fromkeys(r.accepted.job_id for r in results))
            sent += wave
            if sent % 10_000 == 0 or sent == args.api_sends:
                log(f"    API sends: {sent:,}/{args.api_sends:,} in {len(api_ids):,} batch objects "
                    f"({sent / (time.perf_counter() - t0):,.0f} sends/s)")
        plan.build_s["api_sends"] = time.perf_counter() - t0

    # 3. spread over 7 days and set a status mix: one UPDATE per job, in (job, row) order
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    recent_lo, recent_hi = now - timedelta(hours=23), now - timedelta(minutes=10)
    old_lo, old_hi = now - timedelta(days=7) + timedelta(hours=2), now - timedelta(hours=25)

    def when(recent: bool) -> datetime:
        lo, hi = (recent_lo, recent_hi) if recent else (old_lo, old_hi)
        return lo + (hi - lo) * rng.random()

    recent_uploads = set(rng.sample(range(len(upload_ids)), min(args.recent_jobs, len(upload_ids))))
    recent_api = set(rng.sample(range(len(api_ids)), min(len(api_ids), round(args.recent_api / args.api_wave))))
    rows: list[tuple[Any, ...]] = []
    for ordinal, job_id in enumerate(upload_ids):
        rows.append((job_id, ordinal, when(ordinal in recent_uploads), "upload"))
    for ordinal, job_id in enumerate(api_ids):
        rows.append((job_id, 10_000 + ordinal, when(ordinal in recent_api), "api"))
    rows.sort(key=lambda r: r[2])  # receipts arrive in time order

    import psycopg

    with psycopg.connect(env.database_url, autocommit=True) as pg, pg.cursor() as cur:
        cur.executemany(
            "UPDATE jobs SET created_at = %(at)s, "
            "processing_started = CASE WHEN kind = 'upload' THEN %(at)s + interval '1 second' END, "
            "processing_finished = %(at)s + interval '10 minutes', status = 'finished', updated_at = %(at)s "
            "WHERE id = %(id)s",
            [{"id": r[0], "at": r[2]} for r in rows],
        )
        log(f"    jobs re-dated ({time.perf_counter() - t0:.1f} s); updating notifications job by job ...")
        done = 0
        for index, (job_id, ordinal, at, kind) in enumerate(rows):
            cur.execute(
                """
                UPDATE notifications n SET
                    created_at = %(at)s + CASE WHEN n.job_kind = 'upload' THEN interval '1 second' ELSE interval '0' END,
                    status = s.status, provider = 'simulated',
                    carrier = CASE WHEN s.status = 'sending' THEN NULL ELSE (%(carriers)s::text[])[1 + s.c %% 4] END,
                    provider_response = CASE s.status
                        WHEN 'delivered' THEN (%(delivered)s::text[])[1]
                        WHEN 'permanent-failure' THEN (%(permanent)s::text[])[1 + s.c %% 3]
                        WHEN 'temporary-failure' THEN (%(temporary)s::text[])[1 + s.c %% 2]
                    END,
                    sent_at = %(at)s + interval '2 seconds',
                    completed_at = CASE WHEN s.status = 'sending' THEN NULL ELSE %(at)s + interval '30 seconds' END,
                    updated_at = %(at)s + interval '30 seconds'
                FROM (
                    SELECT job_row_number AS row,
                           CASE WHEN h < 860 THEN 'delivered' WHEN h < 910 THEN 'permanent-failure'
                                WHEN h < 960 THEN 'temporary-failure' ELSE 'sending' END AS status,
                           (h / 7) AS c
                    FROM (SELECT job_row_number,
                                 (hashtext(%(seed)s || ':' || %(ordinal)s || ':' || job_row_number) & 2147483647) %% 1000 AS h
                          FROM notifications WHERE job_id = %(id)s) raw
                ) s
                WHERE n.job_id = %(id)s AND n.job_row_number = s.row
                """,
                {"id": job_id, "at": at, "ordinal": ordinal, "seed": str(args.seed), "carriers": list(CARRIERS),
                 "delivered": list(RESPONSES["delivered"]), "permanent": list(RESPONSES["permanent-failure"]),
                 "temporary": list(RESPONSES["temporary-failure"])},
            )
            done += cur.rowcount
            if (index + 1) % 200 == 0 or index + 1 == len(rows):
                log(f"    statuses and times: {index + 1}/{len(rows)} jobs, {done:,} rows "
                    f"({done / (time.perf_counter() - t0):,.0f} rows/s)")
        plan.build_s["update"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cur.execute("VACUUM (ANALYZE) notifications")
        cur.execute("VACUUM (ANALYZE) jobs")
        plan.build_s["vacuum"] = time.perf_counter() - t0
        plan.rows_7d = cur.execute(
            "SELECT count(*) FROM notifications WHERE service_id = %s AND created_at >= now() - interval '7 days'",
            (env.service_id,)).fetchone()[0]  # type: ignore[index]
        plan.rows_1d = cur.execute(
            "SELECT count(*) FROM notifications WHERE service_id = %s AND created_at >= now() - interval '1 day'",
            (env.service_id,)).fetchone()[0]  # type: ignore[index]
        mix = cur.execute(
            "SELECT status, count(*) FROM notifications GROUP BY status ORDER BY 2 DESC").fetchall()
        size = cur.execute("SELECT pg_size_pretty(pg_total_relation_size('notifications'))").fetchone()[0]  # type: ignore[index]
    plan.upload_jobs, plan.api_objects = len(upload_ids), len(api_ids)
    log(f"    status mix: {', '.join(f'{s} {c:,}' for s, c in mix)}; notifications table {size}")
    return plan


def copy_objects_to_s3(env: BenchEnv, moto: MotoServer) -> tuple[int, int, float]:
    """Copy every object (same key, same bytes) from the local store to the bucket on moto."""
    from notify.storage import open_store

    store = open_store(f"s3://{BUCKET}", endpoint=moto.endpoint, region=moto.REGION,
                       access_key_id=moto.ACCESS_KEY, secret_access_key=moto.SECRET_KEY, allow_http=True)
    files = sorted(p for p in env.objects_dir.rglob("*") if p.is_file())
    t0 = time.perf_counter()

    async def copy() -> int:
        sem = asyncio.Semaphore(8)
        total = 0

        async def one(path: Path) -> None:
            nonlocal total
            async with sem:
                data = path.read_bytes()
                await store.put(path.relative_to(env.objects_dir).as_posix(), data)
                total += len(data)

        await asyncio.gather(*(one(p) for p in files))
        return total

    total = asyncio.run(copy())
    return len(files), total, time.perf_counter() - t0


# --- the raw HTTP reader ---------------------------------------------------------------------------


@dataclass
class Fetch:
    status: int = 0
    headers_ms: float = 0.0  # request written -> response head read
    first_byte_ms: float = 0.0  # request written -> first body byte (BOM + header row)
    first_row_ms: float = 0.0  # request written -> first complete data row
    total_s: float = 0.0
    body_mb: float = 0.0
    lines: int = 0  # b"\n" in the body: header + data rows
    rows: int = 0  # data rows
    missing: int = 0  # rows whose recipient file was not found
    bom: bool = False
    error: str | None = None

    @property
    def rows_s(self) -> float:
        return self.rows / self.total_s if self.total_s else 0.0


def fetch_report(port: int, path: str, auth: str, *, timeout: float = 900.0) -> Fetch:
    """GET ``path`` over one HTTP/1.1 connection, discarding the body while counting rows.

    Handles chunked transfer encoding (what a StreamingResponse sends) by parsing the chunk sizes,
    so chunk framing never counts as rows; a chunk is counted once it is wholly received.
    """
    out = Fetch()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth}\r\n"
               "User-Agent: notify-bench-report\r\nAccept: text/csv\r\nConnection: close\r\n\r\n").encode()
    clock = time.perf_counter
    recv = sock.recv
    try:
        t0 = clock()
        sock.sendall(request)
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            data = recv(1 << 16)
            if not data:
                raise ConnectionError("connection closed before the response head")
            buf += data
        out.headers_ms = (clock() - t0) * 1000
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        out.status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines[1:])}
        chunked = headers.get(b"transfer-encoding", b"").lower() == b"chunked"
        length = int(headers.get(b"content-length", b"-1"))
        pending = bytearray(rest)
        received = 0
        newlines = 0
        missing = 0
        first = True
        eof = False

        def count(view: bytearray | bytes, start: int, end: int) -> None:
            nonlocal newlines, missing, first, received
            if end <= start:
                return
            if first:
                out.first_byte_ms = (clock() - t0) * 1000
                out.bom = bytes(view[start:start + 3]) == b"\xef\xbb\xbf"
                first = False
            before = newlines
            newlines += view.count(b"\n", start, end)
            missing += view.count(MISSING_MARKER, start, end)
            received += end - start
            if before < 2 <= newlines:
                out.first_row_ms = (clock() - t0) * 1000

        if out.status != 200:
            while not eof and len(pending) < 4096:
                data = recv(1 << 16)
                eof = not data
                pending += data
            out.error = f"{out.status} {bytes(pending[:400]).decode(errors='replace')}"
            return out
        if chunked:
            while True:
                # pending holds the start of a chunk-size line
                nl = pending.find(b"\r\n")
                if nl < 0:
                    data = recv(1 << 20)
                    if not data:
                        raise ConnectionError("connection closed inside a chunk header")
                    pending += data
                    continue
                size = int(bytes(pending[:nl]).split(b";")[0], 16)
                if size == 0:
                    break
                need = nl + 2 + size + 2
                while len(pending) < need:
                    data = recv(max(1 << 20, need - len(pending)))
                    if not data:
                        raise ConnectionError("connection closed inside a chunk")
                    pending += data
                count(pending, nl + 2, nl + 2 + size)
                del pending[:need]
        else:
            count(pending, 0, len(pending))
            while length < 0 or received < length:
                data = recv(1 << 20)
                if not data:
                    break
                count(data, 0, len(data))
        out.total_s = clock() - t0
    except (OSError, ValueError) as exc:
        out.error = f"{type(exc).__name__}: {exc}"
        return out
    finally:
        sock.close()
    out.body_mb = received / 1e6
    out.lines = newlines
    out.rows = max(0, newlines - 1)
    out.missing = missing
    return out


# --- measuring -------------------------------------------------------------------------------------


@dataclass
class Measured:
    store: str
    size: str
    fetch: Fetch
    expected_rows: int
    rss_before_mb: float = 0.0
    peak_rss_mb: float = 0.0
    api_cpu_pct: float = 0.0
    pg_cpu_pct: float = 0.0
    moto_cpu_pct: float = 0.0
    client_cpu_pct: float = 0.0  # this process: the raw HTTP reader (and the RSS sampler)
    machine_cpu_pct: float = 0.0

    @property
    def ok(self) -> bool:
        return self.fetch.error is None and self.fetch.rows == self.expected_rows and self.fetch.bom

    def line(self) -> str:
        f = self.fetch
        if f.error:
            return f"{self.size:>5}: ERROR {f.error}"
        check = "ok" if self.ok else f"ROW COUNT MISMATCH (expected {self.expected_rows:,} + header)"
        return (
            f"{self.size:>5}: {f.rows:>9,} rows in {f.total_s:6.2f} s = {f.rows_s:>9,.0f} rows/s | "
            f"head {f.headers_ms:5.0f} ms, first byte {f.first_byte_ms:5.0f} ms, first row {f.first_row_ms:5.0f} ms | "
            f"{f.body_mb:6.1f} MB | RSS {self.rss_before_mb:5.0f} -> peak {self.peak_rss_mb:5.0f} MB | "
            f"cpu% api {self.api_cpu_pct:3.0f} pg {self.pg_cpu_pct:3.0f}"
            + (f" moto {self.moto_cpu_pct:3.0f}" if self.store == "s3" else "")
            + f" client {self.client_cpu_pct:3.0f} machine {self.machine_cpu_pct:3.0f}/{100 * (os.cpu_count() or 1)} | {check}"
            + (f", {f.missing:,} missing recipients" if f.missing else "")
        )


def machine_busy_seconds() -> float:
    with open("/proc/stat") as fh:
        parts = fh.readline().split()[1:]
    ticks = [int(x) for x in parts]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def measure_one(env: BenchEnv, store: str, size: str, path: str, expected: int, store_env: dict[str, str],
                api_env: dict[str, str], moto: MotoServer | None, spy_out: Path | None = None) -> tuple[Measured, str]:
    api = ApiProcess(env, extra_env={**store_env, **api_env})
    api.start()
    spy_text = ""
    try:
        warm = fetch_report(api.port, WARMUP_PATH, env.auth_header())
        if warm.error:
            raise RuntimeError(f"warm-up request failed: {warm.error}\n{api.log_tail()}")
        time.sleep(0.2)
        pid = api.pid
        reset_peak_rss(pid)
        before = rss_kib(pid)[0]
        pg = env.postmaster_pid()
        moto_pid = moto.pid if moto is not None else None
        cpu0 = (tree_cpu_seconds(pid), tree_cpu_seconds(pg), tree_cpu_seconds(moto_pid), time.process_time(),
                machine_busy_seconds())
        spy = PySpy(pid, spy_out) if spy_out is not None else None
        if spy is not None:
            spy.__enter__()
        try:
            with RssSampler(pid, interval=0.05) as sampler:
                t0 = time.perf_counter()
                fetch = fetch_report(api.port, path, env.auth_header())
                wall = time.perf_counter() - t0
        finally:
            if spy is not None:
                spy.__exit__(None, None, None)
        cpu1 = (tree_cpu_seconds(pid), tree_cpu_seconds(pg), tree_cpu_seconds(moto_pid), time.process_time(),
                machine_busy_seconds())
        peak = max(sampler.peak, rss_kib(pid)[1])
        m = Measured(store, size, fetch, expected, before / 1024, peak / 1024)
        pct = [100 * (b - a) / wall for a, b in zip(cpu0, cpu1, strict=True)]
        m.api_cpu_pct, m.pg_cpu_pct, m.moto_cpu_pct, m.client_cpu_pct, m.machine_cpu_pct = pct
        if fetch.error:
            log(f"      API log tail:\n{api.log_tail(20)}")
        if spy is not None and spy_out is not None:
            spy_text = summarise_profile(spy_out, wall)
    finally:
        api.stop()
    return m, spy_text


@dataclass
class Summary:
    store: str
    runs: int
    rows_s_1m: float
    total_s_1m: float
    first_byte_ms_1m: float
    first_row_ms_1m: float
    rows_s_100k: float
    total_s_100k: float
    first_byte_ms_100k: float
    first_row_ms_100k: float
    peak_rss_100k_mb: float
    peak_rss_1m_mb: float
    rss_growth_mb: float
    all_rows_ok: bool
    meets_target: bool


def summarise(store: str, results: list[Measured]) -> Summary:
    def med(size: str, fn: Any) -> float:
        values = [fn(m) for m in results if m.size == size and m.fetch.error is None]
        return statistics.median(values) if values else float("nan")

    s = Summary(
        store=store, runs=len(results) // 2,
        rows_s_1m=med("1M", lambda m: m.fetch.rows_s), total_s_1m=med("1M", lambda m: m.fetch.total_s),
        first_byte_ms_1m=med("1M", lambda m: m.fetch.first_byte_ms),
        first_row_ms_1m=med("1M", lambda m: m.fetch.first_row_ms),
        rows_s_100k=med("100k", lambda m: m.fetch.rows_s), total_s_100k=med("100k", lambda m: m.fetch.total_s),
        first_byte_ms_100k=med("100k", lambda m: m.fetch.first_byte_ms),
        first_row_ms_100k=med("100k", lambda m: m.fetch.first_row_ms),
        peak_rss_100k_mb=med("100k", lambda m: m.peak_rss_mb), peak_rss_1m_mb=med("1M", lambda m: m.peak_rss_mb),
        rss_growth_mb=0.0, all_rows_ok=all(m.ok for m in results), meets_target=False,
    )
    s.rss_growth_mb = s.peak_rss_1m_mb - s.peak_rss_100k_mb
    s.meets_target = (
        s.all_rows_ok and s.rows_s_1m >= TARGET_ROWS_S and s.total_s_1m <= 1_000_000 / TARGET_ROWS_S * 1.05 + 0.1
        and max(s.first_byte_ms_1m, s.first_byte_ms_100k) <= TARGET_FIRST_BYTE_MS
        and s.rss_growth_mb <= TARGET_RSS_GROWTH_MB
    )
    return s


def summary_lines(s: Summary) -> list[str]:
    def mark(ok: bool) -> str:
        return "ok" if ok else "BELOW"

    return [
        f"  {s.store} store, median of {s.runs} run(s):",
        (
            f"    1M   (days=7): {s.rows_s_1m:>9,.0f} rows/s, total {s.total_s_1m:5.2f} s "
            f"[{mark(s.rows_s_1m >= TARGET_ROWS_S)}: >= {TARGET_ROWS_S:,} rows/s], first byte {s.first_byte_ms_1m:4.0f} ms "
            f"[{mark(s.first_byte_ms_1m <= TARGET_FIRST_BYTE_MS)}], first data row {s.first_row_ms_1m:4.0f} ms"
        ),
        (
            f"    100k (days=1): {s.rows_s_100k:>9,.0f} rows/s, total {s.total_s_100k:5.2f} s, first byte "
            f"{s.first_byte_ms_100k:4.0f} ms [{mark(s.first_byte_ms_100k <= TARGET_FIRST_BYTE_MS)}], "
            f"first data row {s.first_row_ms_100k:4.0f} ms"
        ),
        (
            f"    peak RSS: {s.peak_rss_100k_mb:.0f} MB at 100k, {s.peak_rss_1m_mb:.0f} MB at 1M -> growth "
            f"{s.rss_growth_mb:+.0f} MB [{mark(s.rss_growth_mb <= TARGET_RSS_GROWTH_MB)}: <= {TARGET_RSS_GROWTH_MB:.0f} MB]"
        ),
        (
            f"    row counts {'all correct' if s.all_rows_ok else 'WRONG in some runs'}"
            f" -> {'MEETS' if s.meets_target else 'BELOW'} target"
        ),
    ]


# --- diagnostics: where the time goes ----------------------------------------------------------------


def summarise_profile(path: Path, wall: float, rate: int = 100, n: int = 14) -> str:
    """Top frames by self and by inclusive time (per function, lines folded) from py-spy's raw output."""
    samples = pyspy_samples(path)
    if samples is None:
        return "    (no py-spy output)"
    own: Counter[str] = Counter()
    own_line: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for stack, k in samples:
        total += k
        frames = [f for f in stack if " (" in f]
        if not frames:
            continue
        own[_function(frames[-1])] += k
        own_line[short_frame(frames[-1])] += k
        for fn in {_function(f) for f in frames}:
            if not any(part in fn for part in _BOILERPLATE):
                inclusive[fn] += k
    if not total:
        return "    (no samples)"
    out = [(f"    py-spy: {total} on-CPU samples of the API over {wall:.1f} s at {rate} Hz "
            f"(= {100 * total / (wall * rate):.0f}% of the wall time on CPU in Python)"), "    own time, by function:"]
    out += [f"      {100 * c / total:5.1f}%  {f}" for f, c in own.most_common(n)]
    out.append("    own time, by line:")
    out += [f"      {100 * c / total:5.1f}%  {f}" for f, c in own_line.most_common(n)]
    out.append("    inclusive time, by function:")
    out += [f"      {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(n + 8)]
    return "\n".join(out)


# Frames every sample passes through (process start-up, event loop, server task): left out of "inclusive".
_BOILERPLATE = ("typer/", "click/", "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat.py", "asyncio/runners.py",
                "asyncio/base_events.py", "asyncio/events.py", "notify/cli/", "notify/serve.py", "<module>",
                "anyio/_core/_tasks.py", "uvloop/")


def _function(frame: str) -> str:
    short = short_frame(frame)
    name, _, where = short.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})"


def decompose(env: BenchEnv) -> list[str]:
    """In this process, no HTTP, 7-day report, once each: the database side alone (the grouped query,
    ``stream_groups``), reading and parsing every recipient file alone, and the whole merge
    (``open_report`` on the local store). CPU seconds are this process's (threads included) and
    PostgreSQL's; together they say which side caps the rate."""
    from notify.db.engine import create_engine
    from notify.reports.query import ReportScope, plan_chunks, report_jobs, stream_groups
    from notify.reports.recipient_files import RecipientFiles
    from notify.reports.stream import open_report
    from notify.storage import open_store

    pg_pid = env.postmaster_pid()

    def clocks() -> tuple[float, float, float]:
        return time.perf_counter(), time.process_time(), tree_cpu_seconds(pg_pid)

    def took(start: tuple[float, float, float]) -> str:
        end = clocks()
        return f"{end[0] - start[0]:.2f} s (CPU: this process {end[1] - start[1]:.2f} s, PostgreSQL {end[2] - start[2]:.2f} s)"

    async def run() -> list[str]:
        out: list[str] = []
        engine = create_engine(env.database_url, pool_size=2)
        store = open_store(env.objects_dir.resolve().as_uri())
        try:
            scope = ReportScope(service_id=env.service_id, since=datetime.now(UTC) - timedelta(days=7))
            async with engine.connect() as conn:
                jobs = await report_jobs(conn, scope)
            chunks = plan_chunks(jobs)
            # (a) the database side alone: grouped rows, arrays loaded, nothing written
            async with engine.connect() as conn:
                pg = (await conn.get_raw_connection()).driver_connection
                t0 = clocks()
                rows = groups = 0
                seen: set[int] = set()
                async for index, found in stream_groups(pg, scope, jobs, chunks):
                    groups += len(found.groups)
                    rows += len(found)
                    seen.add(chunks[index].job)
                out.append(f"    database side (stream_groups): {rows:,} rows in {groups:,} groups from "
                           f"{len(chunks):,} chunks, {took(t0)}")
            # (b) every recipient file with rows in the report, read and parsed (8 at a time)
            files = RecipientFiles(store, jobs, other_columns=False)
            t0 = clocks()
            for job in sorted(seen):
                files.want(job)
            for job in sorted(seen):
                await files.get(job)
            files.close()
            out.append(f"    recipient files: {len(seen):,} read and parsed, {took(t0)}")
            # (c) the whole merge, no HTTP
            t0 = clocks()
            report = await open_report(engine, store, scope, filename="x.csv")
            lines = size = 0
            async for chunk in report.chunks:
                lines += chunk.count(b"\n")
                size += len(chunk)
            dt = time.perf_counter() - t0[0]
            out.append(f"    open_report merge, local store, no HTTP: {lines - 1:,} rows = {(lines - 1) / dt:,.0f} rows/s, "
                       f"{size / 1e6:.0f} MB, {took(t0)}")
        finally:
            await engine.dispose()
        return out

    try:
        return asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        return [f"    (decomposition failed: {exc!r})"]


# --- driver ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="measured runs per store and size; medians (default 3)")
    parser.add_argument("--stores", default="local,s3", help="comma list of local, s3 (default local,s3)")
    parser.add_argument("--jobs", type=int, default=200, help="spreadsheet jobs (default 200)")
    parser.add_argument("--job-rows", type=int, default=5000, help="rows per spreadsheet (default 5000)")
    parser.add_argument("--api-sends", type=int, default=50_000, help="API sends (default 50000)")
    parser.add_argument("--api-wave", type=int, default=50,
                        help="concurrent API sends per group-commit batch object (default 50)")
    parser.add_argument("--recent-jobs", type=int, default=19, help="spreadsheet jobs in the last day (default 19)")
    parser.add_argument("--recent-api", type=int, default=5000, help="API sends in the last day (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="seed for files, API sends, times and statuses (default 1)")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help="py-spy the API during one extra 1M-row report on the first store (default on)")
    parser.add_argument("--decompose", action=argparse.BooleanOptionalAction, default=True,
                        help="time the database side, the file reads and the whole merge in-process, once (default on)")
    parser.add_argument("--api-env", action="append", default=[], metavar="NOTIFY_X=VALUE",
                        help="extra environment for the API process (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (database, objects, logs)")
    parser.add_argument("--json", action="store_true", help="print the medians as one JSON line at the end")
    args = parser.parse_args(argv)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or any(s not in ("local", "s3") for s in stores):
        parser.error("--stores takes local, s3 or local,s3")
    if args.runs < 1 or args.jobs < 1 or args.job_rows < 1 or args.api_sends < 0 or args.api_wave < 1:
        parser.error("runs, jobs, job-rows and api-wave must be >= 1")
    try:
        args.api_env = dict(item.split("=", 1) for item in args.api_env)
    except ValueError:
        parser.error("--api-env takes NAME=VALUE")
    install_signal_handlers()

    log(f"report benchmark: {args.jobs} jobs x {args.job_rows:,} rows + {args.api_sends:,} API sends "
        f"(waves of {args.api_wave}), seed {args.seed}, stores {stores}, {args.runs} run(s), {os.cpu_count()} CPUs")
    env = create_env(keep=args.keep, prefix="notify-bench-report-", sms_template=SMS_TEMPLATE)
    moto: MotoServer | None = None
    summaries: list[Summary] = []
    profile_text = ""
    decomposition: list[str] = []
    try:
        log("building the data ...")
        t0 = time.perf_counter()
        plan = asyncio.run(build_data(env, args))
        log(f"  built in {time.perf_counter() - t0:.0f} s ("
            + ", ".join(f"{k} {v:.1f} s" for k, v in plan.build_s.items())
            + f"): {plan.upload_jobs} upload jobs + {plan.api_objects:,} API batch objects; "
            f"{plan.rows_7d:,} rows in 7 days, {plan.rows_1d:,} in the last day")
        store_envs: dict[str, dict[str, str]] = {"local": {}}
        if "s3" in stores:
            moto = MotoServer(env.tmp)
            moto.start()
            moto.create_bucket(BUCKET)
            files, size, secs = copy_objects_to_s3(env, moto)
            log(f"  moto S3 at {moto.endpoint}: copied {files:,} objects ({size / 1e6:.0f} MB) in {secs:.1f} s")
            store_envs["s3"] = moto.storage_env(BUCKET)
        if args.decompose:
            log("stages in-process (single run, local store, 7-day report):")
            decomposition = decompose(env)
            for line in decomposition:
                log(line)
        for store in stores:
            log(f"{store} store: fresh `notify api` per request; 100k = days=1, 1M = days=7")
            results: list[Measured] = []
            for run in range(args.runs):
                for size, path, expected in (("100k", PATH_1D, plan.rows_1d), ("1M", PATH_7D, plan.rows_7d)):
                    m, _ = measure_one(env, store, size, path, expected, store_envs[store], args.api_env,
                                       moto if store == "s3" else None)
                    results.append(m)
                    log(f"    run {run + 1} {m.line()}")
            summaries.append(summarise(store, results))
        if args.profile and PySpy.available():
            store = stores[0]
            log(f"profile: py-spy on the API during one extra 1M-row report ({store} store; slower than unprofiled)")
            m, profile_text = measure_one(env, store, "1M", PATH_7D, plan.rows_7d, store_envs[store], args.api_env,
                                          moto if store == "s3" else None, spy_out=env.tmp / "report-1m.folded")
            log(f"    {m.line()}")
            log(profile_text)
        elif args.profile:
            log("profile: py-spy not found in the venv; skipped")
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        if moto is not None:
            moto.stop()
        env.close()

    log("")
    log(f"medians (targets on the local store: >= {TARGET_ROWS_S:,} rows/s = 1M rows in <= 2 s, first byte <= "
        f"{TARGET_FIRST_BYTE_MS:.0f} ms, peak RSS growth <= {TARGET_RSS_GROWTH_MB:.0f} MB from 100k to 1M rows):")
    for s in summaries:
        for line in summary_lines(s):
            log(line)
    if args.json:
        print(json.dumps({"benchmark": "report", "rows_7d": plan.rows_7d, "rows_1d": plan.rows_1d,
                          "results": [asdict(s) for s in summaries]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
