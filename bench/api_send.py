"""Benchmark: API send throughput and latency (POST /v2/notifications/sms, 50 concurrent clients).

Target (shared/DESIGN.md, Performance targets): >= 1,000 sends/s with p99 <= 100 ms on this 2-core machine.

Self-contained: it starts an embedded PostgreSQL in a temp dir, migrates it, creates a live service
(very high daily and rate limits), an SMS template with placeholders and a normal API key, then runs
``notify api`` as a separate process and drives it with keep-alive HTTP/1.1 connections:

* ``wrk`` (Debian package ``wrk``) with a Lua script when it is on PATH — the lightest generator;
* otherwise an in-process asyncio generator (uvloop when available) that writes raw HTTP/1.1.

Every request carries a JWT made exactly as the official client makes it
(``notifications_python_client.authentication.create_jwt_token``) and varies the phone number,
personalisation and reference.  Any response other than 201 counts as an error.

After a warm-up it does ``--runs`` measured runs of ``--duration`` seconds each and prints the median
of every figure, plus how many batch objects the group committer wrote (requests per object is the
mean batch size) and where the CPU went (API, PostgreSQL, load generator, steal).

    .venv/bin/python bench/api_send.py                   # defaults: 50 connections, 3 x 10 s, 1 worker
    .venv/bin/python bench/api_send.py --workers 1,2     # also measure two API processes
    .venv/bin/python bench/api_send.py --generator python --runs 5 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import ApiProcess, BenchEnv, create_env, install_signal_handlers, log  # noqa: E402

TARGET_RPS = 1_000
TARGET_P99_MS = 100.0
PATH = "/v2/notifications/sms"
TOKEN_STEP_S = 10  # a token is accepted for +-30 s; a fresh one every 10 s is comfortably inside that
USER_AGENT = "NOTIFY-API-PYTHON-CLIENT/bench"


# --- tokens ------------------------------------------------------------------------------------


def make_token(env: BenchEnv, at: int | None = None) -> str:
    """A token from the official client's own function; ``at`` pins its ``iat`` (for pre-made tokens)."""
    from notifications_python_client import authentication

    if at is None:
        return authentication.create_jwt_token(env.key_secret, env.key_service_id)
    with mock.patch.object(authentication, "epoch_seconds", lambda: at):
        return authentication.create_jwt_token(env.key_secret, env.key_service_id)


# --- results -----------------------------------------------------------------------------------


@dataclass
class RunResult:
    requests: int = 0  # responses received in the measured window, 201 or not
    ok: int = 0
    errors: int = 0  # non-201 responses plus connect/read/write/timeout errors
    seconds: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    objects: int = 0  # batch objects the committer wrote during the run
    first_error: str | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # percent of one core, per component
    db: dict[str, float] = field(default_factory=dict)  # PostgreSQL sessions opened and transactions, per run

    rps: float = 0.0  # 201 responses per second
    per_object: float = 0.0  # 201 responses per batch object: the mean group-commit batch size

    def finish(self) -> RunResult:
        self.rps = self.ok / self.seconds if self.seconds else 0.0
        self.per_object = self.ok / self.objects if self.objects else 0.0
        return self


# --- CPU accounting ----------------------------------------------------------------------------


def _tree_cpu(root: int | None) -> dict[int, float]:
    """CPU seconds per live process of the tree under ``root``, each including its reaped children.

    A PostgreSQL backend that exits between two snapshots still counts: its time moves into the
    postmaster's children_user/children_system when the postmaster reaps it.
    """
    if root is None:
        return {}
    import psutil

    out: dict[int, float] = {}
    try:
        procs = [psutil.Process(root)]
        procs += procs[0].children(recursive=True)
    except Exception:  # noqa: BLE001
        return out
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system + t.children_user + t.children_system
        except Exception:  # noqa: BLE001 - a process may come and go
            pass
    return out


def _proc_stat() -> list[int]:
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


class CpuMeter:
    """CPU seconds used by the API processes, PostgreSQL, the load generator, and the machine as a whole."""

    def __init__(self, api: ApiProcess, env: BenchEnv) -> None:
        self.api, self.env = api, env

    def snapshot(self) -> dict[str, Any]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # only waited-for children: i.e. finished wrk runs
        return {
            "t": time.monotonic(),
            "api": _tree_cpu(self.api.pid),
            "pg": _tree_cpu(self.env.postmaster_pid()),
            "db": self.env.db_counters(),
            "self": me.ru_utime + me.ru_stime,
            "children": kids.ru_utime + kids.ru_stime,
            "stat": _proc_stat(),
        }

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any], generator: str) -> tuple[dict[str, float], dict[str, float]]:
        wall = b["t"] - a["t"]
        if wall <= 0:
            return {}, {}

        def tree_delta(key: str) -> float:
            # processes alive at both ends, plus (via the parents' reaped-children times) those that exited;
            # a process born during the interval contributes all of its time.
            return sum(b[key][pid] - a[key].get(pid, 0.0) for pid in b[key])

        db = {k: b["db"][k] - a["db"][k] - 1 for k in b["db"] if k in a["db"]}  # -1: the snapshot's own
        gen = (b["children"] - a["children"]) if generator == "wrk" else (b["self"] - a["self"])
        stat = [y - x for x, y in zip(a["stat"], b["stat"], strict=False)]
        total = sum(stat[:8]) or 1  # user nice system idle iowait irq softirq steal
        ncpu = os.cpu_count() or 1
        return {
            "api": 100 * tree_delta("api") / wall,
            "postgres": 100 * tree_delta("pg") / wall,
            "generator": 100 * gen / wall,
            "machine_busy": 100 * ncpu * (total - stat[3] - stat[4]) / total,
            "iowait": 100 * ncpu * stat[4] / total,
            "steal": 100 * ncpu * stat[7] / total if len(stat) > 7 else 0.0,
        }, db


# --- PostgreSQL activity sampling (diagnostic, --sample-pg) -------------------------------------


class PgSampler:
    """Samples pg_stat_activity every ``interval`` s in a thread: what the API's backends are doing."""

    def __init__(self, env: BenchEnv, interval: float = 0.02) -> None:
        import collections
        import threading

        self.env, self.interval = env, interval
        self.tally: collections.Counter[str] = collections.Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import psycopg

        with psycopg.connect(self.env.database_url, autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                rows = conn.execute(
                    "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'CPU'), left(query, 60) "
                    "FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
                    "AND datname = current_database()"
                ).fetchall()
                self.samples += 1
                for state, wait, query in rows:
                    key = f"{state:<19} {wait:<28}" + (f" {' '.join(query.split())}" if state != "idle" else "")
                    self.tally[key] += 1

    def __enter__(self) -> PgSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def report(self, top: int = 12) -> str:
        if not self.samples:
            return "    (no pg samples)"
        lines = [f"    pg_stat_activity, {self.samples} samples; mean backends per sample in each state:"]
        for key, n in self.tally.most_common(top):
            lines.append(f"    {n / self.samples:6.2f}  {key}")
        return "\n".join(lines)


# --- generator: wrk ----------------------------------------------------------------------------

WRK_LUA = r"""
-- Notify API send load for wrk: varied recipients and personalisation, official-client JWTs.
-- args: template_id, t0 (epoch s), step (s), max_requests_per_thread, token1, token2, ...
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  template_id = args[1]
  t0 = tonumber(args[2])
  step = tonumber(args[3])
  cap = tonumber(args[4])
  tokens = {}
  for i = 5, #args do tokens[#tokens + 1] = args[i] end
  counter = 0
  responses = 0
  non201 = 0
  first_error = ""
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["User-Agent"] = "NOTIFY-API-PYTHON-CLIENT/bench-wrk"
end

function request()
  counter = counter + 1
  local n = counter * 16 + tid
  local idx = math.floor((os.time() - t0) / step) + 1
  if idx < 1 then idx = 1 end
  if idx > #tokens then idx = #tokens end
  local phone
  if n % 10 == 0 then phone = "+14254147755" else phone = string.format("+1 202-555-%04d", 100 + n % 100) end
  local body = string.format(
    '{"phone_number":"%s","template_id":"%s","personalisation":{"name":"Person %d","code":"%06d"},"reference":"wrk-%d-%d"}',
    phone, template_id, n % 997, (n * 7919) % 1000000, tid, counter)
  wrk.headers["Authorization"] = "Bearer " .. tokens[idx]
  return wrk.format("POST", nil, nil, body)
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 201 then
    non201 = non201 + 1
    if first_error == "" then first_error = status .. " " .. (body or "") end
  end
  if cap > 0 and responses >= cap then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local non = 0
  local first = ""
  for _, t in ipairs(threads) do
    non = non + t:get("non201")
    if first == "" then first = t:get("first_error") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non201":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"first_error":%q}\n',
    summary.requests, summary.duration, non, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    string.sub(first, 1, 400)))
end
"""


def run_wrk(env: BenchEnv, api: ApiProcess, *, connections: int, duration: float, threads: int,
            max_requests: int) -> RunResult:
    script = env.tmp / "api_send.lua"
    if not script.exists():
        script.write_text(WRK_LUA)
    now = int(time.time())
    tokens = [make_token(env)] + [make_token(env, now + k * TOKEN_STEP_S)
                                  for k in range(1, int(duration // TOKEN_STEP_S) + 2)]
    per_thread_cap = max_requests // threads if max_requests else 0
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "5s",
        "-s", str(script), api.base_url + PATH, "--",
        str(env.sms_template_id), str(now), str(TOKEN_STEP_S), str(per_thread_cap), *tokens,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON ").replace("\\\n", "\\n"))
    transport = data["connect"] + data["read"] + data["write"] + data["timeout"]
    first = data["first_error"] or (f"socket errors: {transport}" if transport else None)
    return RunResult(
        requests=data["requests"],
        ok=data["requests"] - data["non201"],
        errors=data["non201"] + transport,
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000, max_ms=data["max_us"] / 1000,
        first_error=first,
    )


# --- generator: Python asyncio -----------------------------------------------------------------


class PyLoad:
    """Keep-alive HTTP/1.1 over asyncio streams, one coroutine per connection, no client library."""

    def __init__(self, env: BenchEnv, api: ApiProcess, *, connections: int) -> None:
        self.env, self.api, self.connections = env, api, connections
        self.host_header = f"127.0.0.1:{api.port}".encode()
        self.template_id = str(env.sms_template_id)
        self.token = make_token(env).encode()
        self.counter = 0

    def _request(self, cid: int) -> bytes:
        self.counter += 1
        n = self.counter
        phone = "+14254147755" if n % 10 == 0 else f"+1 202-555-{100 + n % 100:04d}"
        body = (
            f'{{"phone_number":"{phone}","template_id":"{self.template_id}",'
            f'"personalisation":{{"name":"Person {n % 997}","code":"{(n * 7919) % 1000000:06d}"}},'
            f'"reference":"py-{cid}-{n}"}}'
        ).encode()
        return (
            b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: " + self.host_header
            + b"\r\nUser-Agent: " + USER_AGENT.encode()
            + b"\r\nContent-Type: application/json\r\nAuthorization: Bearer " + self.token
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )

    async def _refresh_tokens(self) -> None:
        while True:
            await asyncio.sleep(TOKEN_STEP_S)
            self.token = make_token(self.env).encode()

    async def _connection(self, cid: int, deadline: float, cap: list[int], lat: list[float],
                          result: RunResult) -> None:
        reader = writer = None
        clock = time.perf_counter
        while clock() < deadline and cap[0] > 0:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.api.port)
                assert reader is not None
                cap[0] -= 1
                req = self._request(cid)
                t0 = clock()
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                close = False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    lname = name.strip().lower()
                    if lname == b"content-length":
                        length = int(value)
                    elif lname == b"connection" and value.strip().lower() == b"close":
                        close = True
                body = await reader.readexactly(length) if length else b""
                elapsed = clock() - t0
                result.requests += 1
                lat.append(elapsed)
                if status == 201:
                    result.ok += 1
                else:
                    result.errors += 1
                    if result.first_error is None:
                        result.first_error = f"{status} {body[:400].decode(errors='replace')}"
                if close:
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                result.errors += 1
                if result.first_error is None:
                    result.first_error = f"connection error: {exc!r}"
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    async def _run(self, duration: float, max_requests: int) -> RunResult:
        result = RunResult()
        lat: list[float] = []
        cap = [max_requests or 1 << 62]
        refresher = asyncio.create_task(self._refresh_tokens())
        start = time.perf_counter()
        deadline = start + duration
        try:
            await asyncio.gather(*(self._connection(i, deadline, cap, lat, result) for i in range(self.connections)))
        finally:
            refresher.cancel()
        result.seconds = time.perf_counter() - start
        if lat:
            lat.sort()

            def pct(p: float) -> float:
                return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000

            result.p50_ms, result.p90_ms, result.p99_ms, result.max_ms = pct(50), pct(90), pct(99), lat[-1] * 1000
        return result

    def run(self, duration: float, max_requests: int) -> RunResult:
        self.token = make_token(self.env).encode()
        try:
            import uvloop

            return uvloop.run(self._run(duration, max_requests))
        except ImportError:
            return asyncio.run(self._run(duration, max_requests))


# --- driver ------------------------------------------------------------------------------------


def pick_generator(choice: str) -> str:
    if choice == "wrk" and not shutil.which("wrk"):
        sys.exit("--generator wrk: wrk is not on PATH (apt-get install -y wrk)")
    if choice == "auto":
        if shutil.which("wrk"):
            return "wrk"
        log("wrk not found (apt-get install -y wrk for the lightest load generator); "
            "falling back to the Python asyncio generator")
        return "python"
    return choice


def fmt(r: RunResult) -> str:
    cpu = r.cpu
    cpu_s = (
        f" | cpu%: api {cpu['api']:.0f} pg {cpu['postgres']:.0f} gen {cpu['generator']:.0f}"
        f" other {max(0.0, cpu['machine_busy'] - cpu['api'] - cpu['postgres'] - cpu['generator']):.0f}"
        f" (machine {cpu['machine_busy']:.0f}/{100 * (os.cpu_count() or 1)}, steal {cpu['steal']:.0f})"
        if cpu else ""
    )
    db = r.db
    db_s = (
        f" | pg: {db['sessions']:.0f} sessions opened, {(db['commits'] + db['rollbacks']) / r.requests:.1f} xacts/req"
        if db and r.requests else ""
    )
    return (
        f"{r.rps:7.0f} req/s  p50 {r.p50_ms:6.1f}  p90 {r.p90_ms:6.1f}  p99 {r.p99_ms:6.1f}  max {r.max_ms:6.1f} ms"
        f"  errors {r.errors:.0f}  objects {r.objects:.0f} ({r.per_object:.1f} req/object){cpu_s}{db_s}"
    )


def median_result(runs: list[RunResult]) -> RunResult:
    med = RunResult()
    for name in ("requests", "ok", "errors", "seconds", "p50_ms", "p90_ms", "p99_ms", "max_ms", "objects", "rps",
                 "per_object"):
        setattr(med, name, statistics.median(getattr(r, name) for r in runs))
    med.first_error = next((r.first_error for r in runs if r.first_error), None)
    if all(r.cpu for r in runs):
        med.cpu = {k: statistics.median(r.cpu[k] for r in runs) for k in runs[0].cpu}
    if all(r.db for r in runs):
        med.db = {k: statistics.median(r.db[k] for r in runs) for k in runs[0].db}
    return med


def bench_workers(env: BenchEnv, args: argparse.Namespace, generator: str, workers: int) -> dict[str, Any]:
    api = ApiProcess(env, workers=workers, extra_env=args.api_env)
    log(f"starting notify api --workers {workers} on port {api.port} ...")
    try:
        api.start()
        log(f"  API ready ({len(api.pids())} process(es))")
        meter = CpuMeter(api, env)
        py = PyLoad(env, api, connections=args.connections) if generator == "python" else None

        def one(duration: float) -> RunResult:
            if py is not None:
                return py.run(duration, args.max_requests)
            return run_wrk(env, api, connections=args.connections, duration=duration,
                           threads=args.wrk_threads, max_requests=args.max_requests)

        if args.warmup > 0:
            log(f"  warm-up {args.warmup:g} s ...")
            w = one(args.warmup).finish()
            log(f"  warm-up: {w.rps:.0f} req/s, errors {w.errors}" + (f" (first: {w.first_error})" if w.errors else ""))
        runs: list[RunResult] = []
        for i in range(args.runs):
            log(f"  run {i + 1}/{args.runs}: {args.duration:g} s with {args.connections} connections ...")
            objects_before = env.count_upload_objects()
            sampler = PgSampler(env) if args.sample_pg else None
            before = meter.snapshot()
            if sampler is not None:
                with sampler:
                    r = one(args.duration)
            else:
                r = one(args.duration)
            after = meter.snapshot()
            time.sleep(0.2)  # let batches whose requests were answered finish their bookkeeping
            r.objects = env.count_upload_objects() - objects_before
            r.cpu, r.db = CpuMeter.delta(before, after, generator)
            r.finish()
            runs.append(r)
            log(f"    {fmt(r)}")
            if sampler is not None:
                log(sampler.report())
            if r.errors and r.first_error:
                log(f"    first error: {r.first_error}")
    finally:
        api.stop()
    med = median_result(runs)
    return {"workers": workers, "median": med, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before the runs (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="measured runs; medians are reported (default 3)")
    parser.add_argument("--connections", type=int, default=50, help="concurrent keep-alive clients (default 50)")
    parser.add_argument("--workers", default="1",
                        help="API processes; a comma list measures each, e.g. 1,2 (default 1)")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk if installed, else Python asyncio (default auto)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--max-requests", type=int, default=500_000,
                        help="stop a run early after this many requests (default 500000; 0 = no cap)")
    parser.add_argument("--api-env", action="append", default=[], metavar="NOTIFY_X=VALUE",
                        help="extra environment for the API process, e.g. NOTIFY_DATABASE_POOL_SIZE=50 (repeatable)")
    parser.add_argument("--sample-pg", action="store_true",
                        help="diagnostic: sample pg_stat_activity every 20 ms during runs and print what backends wait on")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory (database, objects, logs)")
    parser.add_argument("--json", action="store_true", help="print the medians as one JSON line at the end")
    args = parser.parse_args(argv)
    if not 1 <= args.connections <= 1000 or args.runs < 1 or not 0 < args.duration <= 600 or args.warmup > 120:
        parser.error("connections 1..1000, runs >= 1, duration 0..600 s, warm-up <= 120 s")
    try:
        worker_counts = [int(w) for w in str(args.workers).split(",") if w.strip()]
    except ValueError:
        parser.error("--workers takes a number or a comma list such as 1,2")
    try:
        args.api_env = dict(item.split("=", 1) for item in args.api_env)
    except ValueError:
        parser.error("--api-env takes NAME=VALUE")
    if any(not name.startswith("NOTIFY_") for name in args.api_env):
        parser.error("--api-env only passes NOTIFY_* settings")
    generator = pick_generator(args.generator)
    install_signal_handlers()

    log(f"API send benchmark: POST {PATH}, {args.connections} connections, warm-up {args.warmup:g} s, "
        f"{args.runs} x {args.duration:g} s, workers {worker_counts}, generator {generator}"
        + (f", API env {args.api_env}" if args.api_env else "")
        + (f" ({args.wrk_threads} thread)" if generator == "wrk" else " (in-process asyncio)")
        + f", {os.cpu_count()} CPUs")
    env = create_env(keep=args.keep)
    results: list[dict[str, Any]] = []
    try:
        for workers in worker_counts:
            results.append(bench_workers(env, args, generator, workers))
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        env.close()

    log("")
    log(f"median of {args.runs} run(s), generator {generator}, {args.connections} connections "
        f"(target >= {TARGET_RPS} req/s, p99 <= {TARGET_P99_MS:g} ms):")
    summary = []
    for res in results:
        med: RunResult = res["median"]
        ok = med.rps >= TARGET_RPS and med.p99_ms <= TARGET_P99_MS and med.errors == 0
        log(f"  workers={res['workers']}: {fmt(med)}  -> {'MEETS' if ok else 'BELOW'} target")
        if med.first_error:
            log(f"    first error: {med.first_error}")
        summary.append({"workers": res["workers"], "generator": generator, "meets_target": ok, **{k: v for k, v in asdict(med).items() if k != "first_error"},
                        "first_error": med.first_error})
    if args.json:
        print(json.dumps({"benchmark": "api_send", "connections": args.connections, "results": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
