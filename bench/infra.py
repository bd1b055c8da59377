"""What every scenario stands on: the real servers, an isolated database and topics, service processes,
and CPU / memory accounting from ``/proc`` (who used the two cores while a figure was taken)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.processes import ServiceProcess, free_port
from tests.support.stack import (
    ROOT, Infra, TestEnv, _with_database, drop_test_env, libpq, load_stack_module, start_infra,
)

RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
_T0 = time.monotonic()
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(message: str) -> None:
    print(f"[bench {time.monotonic() - _T0:6.1f}s] {message}", flush=True)


def bring_up_servers() -> Infra:
    """``deploy/local/stack.py up`` (idempotent), then the addresses the services are given."""
    return start_infra()


def _run_all(commands: list[list[str]], env: dict[str, str], timeout: float = 120) -> None:
    """Run CLI steps side by side (each is mostly interpreter start-up) and fail on the first error."""
    procs = [
        subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for cmd in commands
    ]
    failures = []
    for cmd, proc in zip(commands, procs):
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if proc.returncode != 0:
            failures.append(f"`{' '.join(cmd[2:])}` exited {proc.returncode}:\n{out[-2000:]}")
    if failures:
        raise RuntimeError("\n".join(failures))


def create_env(infra: Infra, name: str, *, database: bool = True, partitions: int = 6) -> TestEnv:
    """Like ``tests.support.stack.create_test_env``: fresh topics, and a fresh migrated database when asked."""
    token = os.urandom(4).hex()
    prefix = f"bench.{name}.{token}"
    db_name = f"leadflow_bench_{name.replace('-', '_')}_{token}"
    database_url = _with_database(infra.database_url, db_name)
    env = {
        "LEADFLOW_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "LEADFLOW_DATABASE_URL": database_url,
        "LEADFLOW_TOPIC_TOUCHPOINTS": f"{prefix}.touchpoints",
        "LEADFLOW_TOPIC_LEAD_STAGES": f"{prefix}.lead-stages",
        "LEADFLOW_TOPIC_HANDOVER_FEEDBACK": f"{prefix}.handover-feedback",
        "LEADFLOW_SCORING_GROUP_ID": f"{prefix}.scoring",
        "LEADFLOW_HANDOVER_GROUP_ID": f"{prefix}.handover",
        # production logging: JSON lines at INFO, to a file per process
        "LEADFLOW_LOG_FORMAT": "json",
        "LEADFLOW_LOG_LEVEL": "INFO",
    }
    py = sys.executable
    steps = [[py, "-m", "leadflow_runtime.topics", "create", "--partitions", str(partitions)]]
    if database:
        _create_database(infra, db_name)
        steps += [[py, "-m", "leadflow_scoring.cli", "migrate"], [py, "-m", "leadflow_handover.cli", "migrate"]]
    _run_all(steps, env)
    return TestEnv(infra, database_url if database else "", prefix, env)


def _create_database(infra: Infra, name: str, wait: float = 60) -> None:
    """``CREATE DATABASE``, waiting (bounded) while PostgreSQL is down: fault tests restart the shared server."""
    deadline = time.monotonic() + wait
    while True:
        proc = subprocess.run(["psql", libpq(infra.database_url), "-q", "-c", f'CREATE DATABASE "{name}"'],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode == 0:
            return
        if time.monotonic() > deadline or "already exists" in proc.stderr:
            raise RuntimeError(f"cannot create database {name}: {proc.stderr.strip()}")
        say(f"PostgreSQL not answering ({proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else 'no answer'}); retrying")
        time.sleep(2)


def drop_env(env: TestEnv) -> None:
    """Drop the database and delete the topics (a drained million records would otherwise stay on disk)."""
    if env.database_url:
        drop_test_env(env)
    asyncio.run(_delete_topics(env.infra.kafka_bootstrap, env.prefix))


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-bench")
    try:
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(prefix + ".")]
        if names:
            await admin.delete_topics(names)
    except Exception as exc:  # cleaning up is best effort; the next run uses new names anyway
        say(f"could not delete topics {prefix}.*: {exc}")
    finally:
        await admin.close()


@contextmanager
def isolated(infra: Infra, name: str, *, database: bool = True) -> Iterator[TestEnv]:
    env = create_env(infra, name, database=database)
    try:
        yield env
    finally:
        drop_env(env)


class Service(ServiceProcess):
    """A Leadflow service as a process, its JSON log in ``bench/results/logs``."""

    def __init__(self, service: str, env: dict[str, str], name: str | None = None) -> None:
        super().__init__(service, env, name=name)
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{self.name}-{self.port}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop_or_kill(self) -> None:
        try:
            self.stop()
        except Exception:
            self.kill()


class BareApp(Service):
    """The baseline: a FastAPI endpoint that does nothing, under the services' own uvicorn settings."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__("ingest", env, name="bare-app")

    def start(self, wait_ready: bool = True, timeout: float = 60) -> BareApp:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.bare_app"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        if wait_ready:
            self.wait_ready(timeout)
        return self


@contextmanager
def running(*services: Service) -> Iterator[tuple[Service, ...]]:
    """Start them side by side (start-up is mostly imports), wait until each is ready, stop them at the end."""
    started: list[Service] = []
    try:
        for s in services:
            started.append(s.start(wait_ready=False))
        for s in services:
            s.wait_ready()
        yield services
    finally:
        for s in reversed(started):
            s.stop_or_kill()


# ----------------------------------------------------------------------------- /proc accounting


def _proc_cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime (all threads)
    except (OSError, IndexError, ValueError):
        return None


def _system_busy_ticks() -> tuple[int, int]:
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts[:8]) - idle, sum(parts[:8])


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


_STACK: Any = None


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def server_pids() -> dict[str, list[int]]:
    """Our Kafka broker and our PostgreSQL, from the stack's pid files.

    PostgreSQL counts as ours: the postmaster, its shared helpers (checkpointer, WAL writer, ...) and
    the backends of this run's databases (``leadflow_bench_*``). Backends of other databases on the
    same server (another test run) and another checkout's stack (a CI clone) count as ``other``.
    """
    global _STACK
    if _STACK is None:
        _STACK = load_stack_module()
    cfg = _STACK.load_config()
    kafka = _STACK._kafka_running_pid(cfg)  # noqa: SLF001 - the stack script's own pid-file reader
    postmaster = _STACK._pg_running_pid(cfg)  # noqa: SLF001
    postgres = []
    if postmaster:
        postgres.append(postmaster)
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _ppid(int(entry)) == postmaster:
                title = _cmdline(int(entry))
                if b"leadflow" not in title or b"leadflow_bench_" in title:
                    postgres.append(int(entry))
    return {"kafka": [kafka] if kafka else [], "postgresql": postgres}


@dataclass
class CpuMeter:
    """CPU used between ``start`` and ``stop``, in cores (1.0 = one core busy), split by who used it.

    ``other`` is everything not named: another test run on the machine, or the kernel's
    loopback networking. A high ``other`` means the figure was taken on a shared machine.
    """

    named: dict[str, list[int]] = field(default_factory=dict)
    _start: dict[int, int] = field(default_factory=dict)
    _sys0: tuple[int, int] = (0, 0)
    _t0: float = 0.0

    def _groups(self) -> dict[str, list[int]]:
        groups = {**server_pids(), **self.named}
        groups["bench driver"] = [os.getpid()]
        return groups

    def start(self) -> CpuMeter:
        self._t0 = time.monotonic()
        self._sys0 = _system_busy_ticks()
        self._start = {}
        for pids in self._groups().values():
            for pid in pids:
                ticks = _proc_cpu_ticks(pid)
                if ticks is not None:
                    self._start[pid] = ticks
        return self

    def stop(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self._t0, 1e-6)
        busy1, _ = _system_busy_ticks()
        out: dict[str, float] = {}
        named_total = 0.0
        for name, pids in self._groups().items():
            ticks = 0
            for pid in pids:
                now = _proc_cpu_ticks(pid)
                if now is not None:
                    ticks += now - self._start.get(pid, 0)
            cores = ticks / CLK_TCK / elapsed
            out[name] = round(cores, 2)
            named_total += cores
        total = (busy1 - self._sys0[0]) / CLK_TCK / elapsed
        out["other (other runs, kernel)"] = round(max(total - named_total, 0.0), 2)
        out["total busy"] = round(total, 2)
        return out


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def busy_cores(seconds: float = 1.0) -> float:
    b0, _ = _system_busy_ticks()
    time.sleep(seconds)
    b1, _ = _system_busy_ticks()
    return (b1 - b0) / CLK_TCK / seconds


def wait_until_quiet(max_wait: float, threshold: float = 0.5) -> dict[str, Any]:
    """Wait (bounded) until the machine is nearly idle before measuring; say what it was."""
    deadline = time.monotonic() + max_wait
    busy = busy_cores(1.0)
    waited = 0.0
    while busy > threshold and time.monotonic() < deadline:
        if waited == 0.0:
            say(f"machine busy ({busy:.2f} cores in use by others, load {loadavg()[0]:.2f}); waiting up to {max_wait:.0f}s")
        time.sleep(4)
        waited = max_wait - (deadline - time.monotonic())
        busy = busy_cores(1.0)
    return {"busy_cores_before": round(busy, 2), "loadavg_before": loadavg(), "waited_s": round(waited, 1)}


__all__ = [
    "RESULTS", "LOGS", "BareApp", "CpuMeter", "Infra", "Service", "TestEnv", "bring_up_servers", "busy_cores", "create_env",
    "drop_env", "free_port", "isolated", "libpq", "loadavg", "rss_mb", "running", "say", "wait_until_quiet",
]
