#!/usr/bin/env python3
"""Local Kafka + PostgreSQL for Leadflow development and tests, without Docker.

Runs a single-node KRaft Apache Kafka broker (assembled from Maven Central jars)
and a throwaway PostgreSQL cluster, both as plain processes whose data, config,
pid files and logs live in ``deploy/local/.state/``.

Standard library only: this runs before any virtualenv exists.

Command line::

    stack.py up | down [--purge] | status | logs [kafka|postgres] [-n N] [-f]
    stack.py start-kafka | stop-kafka | restart-kafka
    stack.py start-postgres | stop-postgres | restart-postgres

From Python (tests load this file with importlib)::

    up(), down(), kafka_start(), kafka_stop(), postgres_start(), postgres_stop()

Each blocks until the server is ready (or stopped) and raises ``StackError``
on failure.  Configuration is read from the environment on every call, see
``Config``.
"""

import argparse
import base64
import contextlib
import fcntl
import glob
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
KAFKA_POM = HERE / "kafka" / "pom.xml"

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://leadflow:leadflow@127.0.0.1:5432/leadflow"

# Kafka releases to try, in order, with the log4j2 version each one ships with.
# The first that resolves from Maven Central is used and cached.
KAFKA_RELEASES = [("4.3.1", "2.25.4"), ("4.4.0", "2.25.4")]

KAFKA_READY_TIMEOUT_S = 90
KAFKA_STOP_TIMEOUT_S = 30
POSTGRES_READY_TIMEOUT_S = 60
KAFKA_STARTED_LINE = "Kafka Server started"
JARS_COMPLETE_MARKER = ".leadflow-complete"
JARS_FETCHING_MARKER = ".leadflow-fetching"

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0", ""}


class StackError(RuntimeError):
    """A server could not be prepared, started or stopped; the message says why."""


def say(msg: str) -> None:
    """Progress goes to stderr so stdout of `status` stays easy to parse."""
    print(f"[stack] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Everything read from the environment, resolved once per call."""

    state: Path
    kafka_host: str
    kafka_port: int
    kafka_jars: Path | None  # explicit LEADFLOW_KAFKA_JARS, else per-version cache
    database_url: str
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    pg_database: str

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def controller_port(self) -> int:
        return self.kafka_port + 1

    # Kafka files
    @property
    def kafka_dir(self) -> Path:
        return self.state / "kafka"

    @property
    def kafka_data(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def kafka_log4j(self) -> Path:
        return self.kafka_dir / "log4j2.properties"

    @property
    def kafka_pidfile(self) -> Path:
        return self.kafka_dir / "kafka.pid"

    @property
    def kafka_log(self) -> Path:
        return self.kafka_dir / "kafka.log"

    # PostgreSQL files
    @property
    def pg_dir(self) -> Path:
        return self.state / "postgres"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def pg_log(self) -> Path:
        return self.pg_dir / "postgres.log"

    @property
    def pg_socket_dir(self) -> Path:
        """Unix sockets have a ~107 byte path limit; fall back to /tmp if the state path is long."""
        candidate = self.pg_dir / "sock"
        if len(str(candidate / f".s.PGSQL.{self.pg_port}.lock")) < 100:
            return candidate
        digest = hashlib.sha1(str(self.state).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"leadflow-pg-{digest}"


def load_config() -> Config:
    """Read LEADFLOW_* variables; defaults match the services' own defaults."""
    state = Path(os.environ.get("LEADFLOW_LOCAL_STATE") or HERE / ".state").expanduser().resolve()
    kafka_host, kafka_port = _parse_bootstrap(os.environ.get("LEADFLOW_KAFKA_BOOTSTRAP") or DEFAULT_KAFKA_BOOTSTRAP)
    jars = os.environ.get("LEADFLOW_KAFKA_JARS")
    url = os.environ.get("LEADFLOW_DATABASE_URL") or DEFAULT_DATABASE_URL
    pg = _parse_database_url(url)
    return Config(
        state=state,
        kafka_host=kafka_host,
        kafka_port=kafka_port,
        kafka_jars=Path(jars).expanduser().resolve() if jars else None,
        database_url=url,
        **pg,
    )


def _parse_bootstrap(value: str) -> tuple[str, int]:
    """Take the first host:port of a bootstrap list (we run exactly one broker)."""
    first = value.split(",")[0].strip()
    first = re.sub(r"^[A-Za-z_]+://", "", first)
    m = re.fullmatch(r"\[?([^\[\]]*?)\]?:(\d+)", first)
    if not m:
        raise StackError(f"LEADFLOW_KAFKA_BOOTSTRAP must look like host:port, got {value!r}")
    return m.group(1) or "127.0.0.1", int(m.group(2))


def _parse_database_url(url: str) -> dict:
    """Accept postgresql://, postgres:// and SQLAlchemy-style postgresql+driver:// URLs."""
    parts = urlsplit(url)
    if not re.fullmatch(r"postgres(ql)?(\+\w+)?", parts.scheme or ""):
        raise StackError(f"LEADFLOW_DATABASE_URL must be a postgresql:// URL, got {url!r}")
    database = unquote(parts.path.lstrip("/")) or "leadflow"
    return {
        "pg_host": parts.hostname or "127.0.0.1",
        "pg_port": parts.port or 5432,
        "pg_user": unquote(parts.username or "leadflow"),
        "pg_password": unquote(parts.password or ""),
        "pg_database": database,
    }


def libpq_url(cfg: Config) -> str:
    """The database URL as psql/libpq understand it (no +driver suffix)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", cfg.database_url)


# ---------------------------------------------------------------------------
# Small process / network helpers
# ---------------------------------------------------------------------------


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _is_local(host: str) -> bool:
    """Only servers on this machine can be started by this script."""
    if host in LOCAL_HOSTS or host.startswith("127."):
        return True
    try:
        addrs = {ai[4][0] for ai in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return all(a.startswith("127.") or a == "::1" for a in addrs)


def _pid_alive(pid: int, cmdline_contains: str | None = None) -> bool:
    """Alive and not a zombie; optionally check the command line to survive pid reuse."""
    with contextlib.suppress(OSError):  # reap it if it happens to be our child
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
        return False
    if cmdline_contains:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return cmdline_contains in cmdline
    return True


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data.splitlines()[-lines:])


def _run(cmd: list[str], *, check: bool = True, capture: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a short helper command; on failure raise StackError with its output."""
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.run(cmd, text=True, capture_output=capture, **kw)
    if check and proc.returncode != 0:
        out = ((proc.stdout or "") + (proc.stderr or "")).strip() if capture else ""
        raise StackError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out}")
    return proc


def _spawn_detached(cmd: list[str], log: Path, cwd: Path) -> int:
    """Start cmd in its own session with output to log and return its pid.

    Goes through `sh -c '... &'` so the server is re-parented to init at once:
    it never becomes a zombie child of a long-lived test process that imported
    this module, and it outlives the `stack.py up` that started it.
    """
    script = 'exec "$@" </dev/null >>"$LEADFLOW_SPAWN_LOG" 2>&1 &\necho $!'
    env = dict(os.environ, LEADFLOW_SPAWN_LOG=str(log))
    out = subprocess.run(
        ["sh", "-c", script, "sh", *cmd],
        env=env, cwd=cwd, text=True, capture_output=True, start_new_session=True, check=True,
    ).stdout
    return int(out.strip())


_lock_depth = 0


@contextlib.contextmanager
def _state_lock(cfg: Config):
    """Serialise up/down/start/stop across processes (e.g. parallel test workers)."""
    global _lock_depth
    cfg.state.mkdir(parents=True, exist_ok=True)
    if _lock_depth:
        _lock_depth += 1
        try:
            yield
        finally:
            _lock_depth -= 1
        return
    with open(cfg.state / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        _lock_depth = 1
        try:
            yield
        finally:
            _lock_depth = 0
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------
# Kafka: jars
# ---------------------------------------------------------------------------


def _jar_cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "leadflow"


def _jars_usable(lib: Path) -> bool:
    """Complete = our marker is there, or (for a hand-made LEADFLOW_KAFKA_JARS) jars without a fetch in progress."""
    if (lib / JARS_COMPLETE_MARKER).exists():
        return True
    return not (lib / JARS_FETCHING_MARKER).exists() and any(lib.glob("kafka_2.13-*.jar"))


def kafka_jars(cfg: Config | None = None) -> Path:
    """Return a lib/ folder holding a complete Kafka broker classpath, fetching it once.

    The cache lives outside the repo (~/.cache/leadflow/kafka-<version>/lib) so
    every clone on this machine shares it.  The completion marker is written
    only after Maven finishes, so an interrupted download is redone, not trusted.
    """
    cfg = cfg or load_config()
    if cfg.kafka_jars:  # one explicit folder, whichever release lands in it
        if _jars_usable(cfg.kafka_jars):
            return cfg.kafka_jars
        targets = [(cfg.kafka_jars, v, l4j) for v, l4j in KAFKA_RELEASES]
    else:
        targets = [(_jar_cache_root() / f"kafka-{v}" / "lib", v, l4j) for v, l4j in KAFKA_RELEASES]
        for lib, _, _ in targets:  # reuse whichever release is cached, in preference order
            if (lib / JARS_COMPLETE_MARKER).exists():
                return lib

    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("Maven (mvn) is needed once to fetch the Kafka jars; install it (apt-get install maven)")
    errors = []
    for lib, version, log4j in targets:
        say(f"fetching Kafka {version} jars from Maven Central (first run only)...")
        if lib.exists():
            shutil.rmtree(lib)
        lib.mkdir(parents=True)
        (lib / JARS_FETCHING_MARKER).touch()
        started = time.monotonic()
        proc = subprocess.run(
            [mvn, "-B", "-q", "-f", str(KAFKA_POM),
             f"-Dkafka.version={version}", f"-Dlog4j2.version={log4j}",
             "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={lib}"],
            text=True, capture_output=True, stdin=subprocess.DEVNULL,
        )
        if proc.returncode == 0 and any(lib.glob("kafka_2.13-*.jar")):
            (lib / JARS_COMPLETE_MARKER).write_text(f"kafka {version}\nlog4j2 {log4j}\n")
            (lib / JARS_FETCHING_MARKER).unlink()
            say(f"Kafka {version} jars ready in {lib} ({time.monotonic() - started:.0f} s)")
            return lib
        errors.append(f"Kafka {version}: {(proc.stdout + proc.stderr).strip()[-2000:]}")
        say(f"Kafka {version} did not resolve; trying the next release")
    raise StackError("could not fetch Kafka jars from Maven Central:\n" + "\n".join(errors))


def _kafka_version(lib: Path) -> str:
    jars = sorted(lib.glob("kafka_2.13-*.jar"))
    m = re.search(r"kafka_2\.13-(.+)\.jar$", jars[0].name) if jars else None
    return m.group(1) if m else "?"


# ---------------------------------------------------------------------------
# Kafka: config, format, start, stop
# ---------------------------------------------------------------------------


def _kafka_write_config(cfg: Config) -> None:
    """(Re)write server.properties and log4j2.properties for a single-node KRaft broker."""
    host, port, cport = cfg.kafka_host, cfg.kafka_port, cfg.controller_port
    cfg.kafka_dir.mkdir(parents=True, exist_ok=True)
    cfg.kafka_properties.write_text(
        f"""# Written by deploy/local/stack.py on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{cport}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}
advertised.listeners=PLAINTEXT://{host}:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={cfg.kafka_data}

# One broker: every internal topic has a single replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# Topics are created explicitly by the services/tests with their partition counts.
auto.create.topics.enable=false
num.partitions=6

# Fast consumer-group joins in tests.
group.initial.rebalance.delay.ms=0
# The 128 MiB default dedupe buffer would sit on a 512 MiB heap.
log.cleaner.dedupe.buffer.size=2097152
# After a SIGKILL the restarted broker cannot register until its old session
# expires (default 9 s); fault tests kill and restart it, so keep that short.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
"""
    )
    cfg.kafka_log4j.write_text(
        """# Written by deploy/local/stack.py. Console output is redirected to kafka.log.
status = warn
name = leadflow-local-kafka
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
# stack.py waits for "Kafka Server started" from this logger.
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
"""
    )


def _kafka_java() -> str:
    java = shutil.which("java")
    if not java and os.environ.get("JAVA_HOME"):
        java = str(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    if not java or not os.path.exists(java):
        raise StackError("Java 17+ is needed for the Kafka broker (apt-get install openjdk-17-jre-headless)")
    return java


def _kafka_cluster_id() -> str:
    """A Kafka Uuid string: 16 random bytes, URL-safe base64 without padding, not starting with '-'."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _kafka_format(cfg: Config, java: str, lib: Path) -> None:
    """Format the KRaft storage exactly once; later starts reuse the data."""
    if (cfg.kafka_data / "meta.properties").exists():
        return
    cfg.kafka_data.mkdir(parents=True, exist_ok=True)
    cid = _kafka_cluster_id()
    say(f"formatting Kafka storage (cluster id {cid})")
    _run([java, "-Xmx256m", f"-Dlog4j2.configurationFile={cfg.kafka_log4j}", "-cp", f"{lib}/*",
          "kafka.tools.StorageTool", "format", f"--cluster-id={cid}", "-c", str(cfg.kafka_properties),
          "--ignore-formatted"])


def _kafka_running_pid(cfg: Config) -> int | None:
    """Pid of the broker this script started, if it is still alive."""
    pid = _read_pid(cfg.kafka_pidfile)
    if pid and _pid_alive(pid, str(cfg.kafka_properties)):
        return pid
    return None


def _kafka_running_port(cfg: Config) -> int | None:
    try:
        m = re.search(r"^listeners=PLAINTEXT://.*:(\d+),", cfg.kafka_properties.read_text(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def kafka_start(cfg: Config | None = None) -> None:
    """Start the local broker (fetching jars / formatting on first use) and wait until it serves."""
    cfg = cfg or load_config()
    with _state_lock(cfg):
        pid = _kafka_running_pid(cfg)
        if pid:
            running_port = _kafka_running_port(cfg)
            if running_port and running_port != cfg.kafka_port:
                raise StackError(
                    f"our Kafka (pid {pid}) runs on port {running_port} but LEADFLOW_KAFKA_BOOTSTRAP asks for "
                    f"{cfg.kafka_port}; run `stack.py down` first or set LEADFLOW_LOCAL_STATE to another folder")
            _kafka_wait_ready(cfg, pid)
            say(f"Kafka already running at {cfg.kafka_bootstrap} (pid {pid})")
            return
        cfg.kafka_pidfile.unlink(missing_ok=True)
        if port_answers(cfg.kafka_host, cfg.kafka_port):
            say(f"using existing Kafka at {cfg.kafka_bootstrap}")
            return
        if not _is_local(cfg.kafka_host):
            raise StackError(f"no Kafka answers at {cfg.kafka_bootstrap} and that host is not this machine")
        if port_answers(cfg.kafka_host, cfg.controller_port):
            raise StackError(
                f"port {cfg.controller_port} (Kafka controller = bootstrap port + 1) is taken by another process")

        java = _kafka_java()
        lib = kafka_jars(cfg)
        _kafka_write_config(cfg)
        _kafka_format(cfg, java, lib)
        if cfg.kafka_log.exists():  # keep one previous log; readiness reads only this run's
            cfg.kafka_log.replace(cfg.kafka_log.with_suffix(".log.1"))
        say(f"starting Kafka {_kafka_version(lib)} at {cfg.kafka_bootstrap}")
        pid = _spawn_detached(
            [java, "-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={cfg.kafka_log4j}", "-cp", f"{lib}/*",
             "kafka.Kafka", str(cfg.kafka_properties)],
            cfg.kafka_log, cfg.kafka_dir,
        )
        cfg.kafka_pidfile.write_text(f"{pid}\n")
        (cfg.kafka_dir / "version").write_text(_kafka_version(lib) + "\n")
        _kafka_wait_ready(cfg, pid)
        say(f"Kafka ready at {cfg.kafka_bootstrap} (pid {pid})")


def _kafka_wait_ready(cfg: Config, pid: int) -> None:
    """Ready = the port accepts connections AND the log says the server started."""
    deadline = time.monotonic() + KAFKA_READY_TIMEOUT_S
    while True:
        alive = _pid_alive(pid, str(cfg.kafka_properties))
        if alive and port_answers(cfg.kafka_host, cfg.kafka_port, 0.5):
            try:
                if KAFKA_STARTED_LINE in cfg.kafka_log.read_text(errors="replace"):
                    return
            except OSError:
                pass
        if not alive:
            raise StackError(f"Kafka exited during startup; last log lines of {cfg.kafka_log}:\n{_tail(cfg.kafka_log)}")
        if time.monotonic() > deadline:
            raise StackError(
                f"Kafka not ready after {KAFKA_READY_TIMEOUT_S} s (pid {pid} left running); "
                f"last log lines of {cfg.kafka_log}:\n{_tail(cfg.kafka_log)}")
        time.sleep(0.25)


def kafka_stop(cfg: Config | None = None) -> None:
    """Stop our broker: SIGTERM (controlled shutdown), then SIGKILL after 30 s. Data is kept."""
    cfg = cfg or load_config()
    with _state_lock(cfg):
        pid = _kafka_running_pid(cfg)
        if not pid:
            cfg.kafka_pidfile.unlink(missing_ok=True)
            if port_answers(cfg.kafka_host, cfg.kafka_port):
                say(f"Kafka at {cfg.kafka_bootstrap} was not started by this script; leaving it alone")
            return
        say(f"stopping Kafka (pid {pid})")
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + KAFKA_STOP_TIMEOUT_S
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid):
            say(f"Kafka did not stop within {KAFKA_STOP_TIMEOUT_S} s; sending SIGKILL")
            _signal(pid, signal.SIGKILL)
            while _pid_alive(pid):
                time.sleep(0.1)
        cfg.kafka_pidfile.unlink(missing_ok=True)
        say("Kafka stopped")


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    """Newest /usr/lib/postgresql/*/bin with a server, else the directory of initdb on PATH."""
    def version_key(p: str) -> float:
        m = re.search(r"/postgresql/([\d.]+)/bin", p)
        return float(m.group(1)) if m else 0.0

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True):
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("postgres", "initdb", "pg_ctl")):
            return Path(d)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    return None


def _pg_tool(name: str) -> str:
    """A client tool (psql, pg_isready) from the server's bindir or PATH."""
    bindir = _pg_bindir()
    if bindir and (bindir / name).exists():
        return str(bindir / name)
    found = shutil.which(name)
    if not found:
        raise StackError(f"{name} not found; install the PostgreSQL client (apt-get install postgresql-client)")
    return found


def _pg_install_if_missing() -> Path:
    """Install Debian's postgresql package when no server binaries exist (root only)."""
    bindir = _pg_bindir()
    if bindir:
        return bindir
    if os.geteuid() != 0:
        raise StackError(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found and we are not root; "
            "install them (e.g. sudo apt-get install postgresql) or point LEADFLOW_DATABASE_URL at a running server")
    say("PostgreSQL not found: running `apt-get update && apt-get install -y postgresql`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update"], capture=False, env=env)
    _run(["apt-get", "install", "-y", "postgresql"], capture=False, env=env)
    bindir = _pg_bindir()
    if not bindir:
        raise StackError("apt-get install postgresql finished but initdb/pg_ctl are still not found")
    return bindir


def _pg_as_owner(cmd: list[str]) -> list[str]:
    """The server refuses to run as root: run server-side tools as the `postgres` user then."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _pg_ensure_os_user(cfg: Config) -> None:
    """As root: make sure the `postgres` system user exists and owns the cluster folders."""
    if os.geteuid() != 0:
        for d in (cfg.pg_dir, cfg.pg_socket_dir):
            d.mkdir(parents=True, exist_ok=True)
        return
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        say("creating system user `postgres` to run the server")
        _run(["useradd", "--system", "--home-dir", "/var/lib/postgresql", "--shell", "/bin/bash", "postgres"])
        pw = pwd.getpwnam("postgres")
    for d in (cfg.pg_dir, cfg.pg_socket_dir):
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chmod(cfg.pg_socket_dir, 0o755)
    if cfg.pg_data.exists() and cfg.pg_data.stat().st_uid != pw.pw_uid:
        for root, dirs, files in os.walk(cfg.pg_data):
            for name in [*dirs, *files]:
                with contextlib.suppress(FileNotFoundError):
                    os.lchown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)
        os.chown(cfg.pg_data, pw.pw_uid, pw.pw_gid)
    # The postgres user must be able to reach the state folder. A folder on the way that others may not
    # enter (a checkout in a `mktemp -d` folder, mode 700) gets search permission for others (o+x: enter,
    # not list); we are root here, and say so.
    path = cfg.pg_dir
    while path != path.parent:
        if not os.access(path, os.F_OK):
            break
        mode = path.stat().st_mode
        if path.stat().st_uid != pw.pw_uid and not mode & 0o001:
            say(f"letting the postgres user enter {path} (chmod o+x) to reach its data folder")
            try:
                os.chmod(path, stat.S_IMODE(mode) | 0o001)
            except OSError as exc:
                raise StackError(f"{path} is not searchable by the postgres user and cannot be made so ({exc}); "
                                 "set LEADFLOW_LOCAL_STATE to a folder it can reach") from exc
        path = path.parent


def _pg_write_config(cfg: Config) -> None:
    """Settings that follow LEADFLOW_DATABASE_URL live in an included file rewritten on each start."""
    listen = "localhost" if cfg.pg_host == "localhost" else cfg.pg_host
    if listen in ("", "0.0.0.0"):
        listen = "127.0.0.1"
    conf = cfg.pg_data / "leadflow.conf"
    conf.write_text(
        "# Written by deploy/local/stack.py on every start.\n"
        f"port = {cfg.pg_port}\n"
        f"listen_addresses = '{listen}'\n"
        f"unix_socket_directories = '{cfg.pg_socket_dir}'\n"
        "max_connections = 200\n"
    )
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(conf, pw.pw_uid, pw.pw_gid)
    main_conf = cfg.pg_data / "postgresql.conf"
    text = main_conf.read_text()
    if "include_if_exists = 'leadflow.conf'" not in text:
        with open(main_conf, "a") as fh:
            fh.write("\n# Leadflow local stack settings (port, listen address, sockets, connections)\n"
                     "include_if_exists = 'leadflow.conf'\n")


def _pg_initdb(cfg: Config, bindir: Path) -> None:
    """Create the cluster once. Trust auth: a throwaway dev/test cluster listening on loopback only."""
    if (cfg.pg_data / "PG_VERSION").exists():
        return
    if cfg.pg_data.exists():  # half-made by an interrupted initdb
        shutil.rmtree(cfg.pg_data)
    say(f"initialising PostgreSQL cluster in {cfg.pg_data}")
    _run(_pg_as_owner([str(bindir / "initdb"), "-D", str(cfg.pg_data), "-U", "postgres", "-A", "trust",
                       "-E", "UTF8", "--locale=C.UTF-8"]))


def _pg_running_pid(cfg: Config) -> int | None:
    """Pid of the postmaster of our cluster, from its postmaster.pid, if alive."""
    pid = _read_pid(cfg.pg_data / "postmaster.pid")
    if pid and _pid_alive(pid, str(cfg.pg_data)):
        return pid
    return None


def _pg_running_port(cfg: Config) -> int | None:
    try:
        lines = (cfg.pg_data / "postmaster.pid").read_text().splitlines()
        return int(lines[3])
    except (OSError, ValueError, IndexError):
        return None


def pg_ready(cfg: Config) -> bool:
    """pg_isready over TCP on the URL's host/port (TCP connect if the tool is missing)."""
    if not port_answers(cfg.pg_host, cfg.pg_port, 0.5):
        return False
    try:
        tool = _pg_tool("pg_isready")
    except StackError:
        return True
    # Name a role that exists in our cluster so each probe does not log "role root does not exist".
    user = "postgres" if _pg_running_pid(cfg) else cfg.pg_user
    return subprocess.run([tool, "-q", "-h", cfg.pg_host, "-p", str(cfg.pg_port), "-t", "2",
                           "-U", user, "-d", "postgres"], stdin=subprocess.DEVNULL).returncode == 0


def _pg_ensure_role_and_db(cfg: Config, admin: list[str]) -> None:
    """Create/refresh the URL's role (LOGIN, CREATEDB, password) and its database, idempotently."""
    sql = """
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \\gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'pw') \\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \\gexec
"""
    _run([*admin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"role={cfg.pg_user}",
          "-v", f"pw={cfg.pg_password}", "-v", f"db={cfg.pg_database}"], input=sql)


def postgres_start(cfg: Config | None = None) -> None:
    """Start the local cluster (initdb on first use), wait for pg_isready, ensure role and database."""
    cfg = cfg or load_config()
    with _state_lock(cfg):
        pid = _pg_running_pid(cfg)
        if pid:
            running_port = _pg_running_port(cfg)
            if running_port and running_port != cfg.pg_port:
                raise StackError(
                    f"our PostgreSQL (pid {pid}) runs on port {running_port} but LEADFLOW_DATABASE_URL asks for "
                    f"{cfg.pg_port}; run `stack.py down` first or set LEADFLOW_LOCAL_STATE to another folder")
            _pg_wait_ready(cfg)
            say(f"PostgreSQL already running at {cfg.pg_host}:{cfg.pg_port} (pid {pid})")
            _pg_ensure_role_and_db(cfg, _pg_admin_cmd(cfg))
            return
        if pg_ready(cfg):
            say(f"using existing PostgreSQL at {cfg.pg_host}:{cfg.pg_port}")
            _pg_try_ensure_on_external(cfg)
            return
        if not _is_local(cfg.pg_host):
            raise StackError(f"no PostgreSQL answers at {cfg.pg_host}:{cfg.pg_port} and that host is not this machine")
        if port_answers(cfg.pg_host, cfg.pg_port):
            raise StackError(f"port {cfg.pg_port} is taken by something that is not a ready PostgreSQL")

        bindir = _pg_install_if_missing()
        _pg_ensure_os_user(cfg)
        _pg_initdb(cfg, bindir)
        _pg_write_config(cfg)
        say(f"starting PostgreSQL ({bindir.parent.name}) at {cfg.pg_host}:{cfg.pg_port}")
        proc = subprocess.run(
            _pg_as_owner([str(bindir / "pg_ctl"), "-D", str(cfg.pg_data), "-l", str(cfg.pg_log),
                          "-w", "-t", str(POSTGRES_READY_TIMEOUT_S), "start"]),
            text=True, capture_output=True, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        if proc.returncode != 0:
            raise StackError(f"pg_ctl start failed:\n{proc.stdout}{proc.stderr}\n"
                             f"last log lines of {cfg.pg_log}:\n{_tail(cfg.pg_log)}")
        _pg_wait_ready(cfg)
        _pg_ensure_role_and_db(cfg, _pg_admin_cmd(cfg))
        say(f"PostgreSQL ready at {cfg.pg_host}:{cfg.pg_port} (pid {_pg_running_pid(cfg)})")


def _pg_admin_cmd(cfg: Config) -> list[str]:
    """psql as superuser `postgres` over our cluster's Unix socket (trust auth)."""
    return [_pg_tool("psql"), "-h", str(cfg.pg_socket_dir), "-p", str(cfg.pg_port), "-U", "postgres", "-d", "postgres"]


def _pg_wait_ready(cfg: Config) -> None:
    deadline = time.monotonic() + POSTGRES_READY_TIMEOUT_S
    while not pg_ready(cfg):
        if time.monotonic() > deadline:
            raise StackError(f"PostgreSQL not ready after {POSTGRES_READY_TIMEOUT_S} s; "
                             f"last log lines of {cfg.pg_log}:\n{_tail(cfg.pg_log)}")
        time.sleep(0.25)


def _pg_try_ensure_on_external(cfg: Config) -> None:
    """Best effort on a server we did not start: fine if the URL works, else try admin routes quietly."""
    try:
        psql = _pg_tool("psql")
    except StackError:
        return
    env = dict(os.environ, PGCONNECT_TIMEOUT="3")
    if subprocess.run([psql, libpq_url(cfg), "-X", "-q", "-c", "select 1"], capture_output=True,
                      stdin=subprocess.DEVNULL, env=env).returncode == 0:
        return
    admins = [[psql, "-h", cfg.pg_host, "-p", str(cfg.pg_port), "-U", "postgres", "-d", "postgres", "-w"]]
    if os.geteuid() == 0 and _is_local(cfg.pg_host):  # Debian default: peer auth on /var/run/postgresql
        admins.append(["runuser", "-u", "postgres", "--", psql, "-h", "/var/run/postgresql",
                       "-p", str(cfg.pg_port), "-d", "postgres", "-w"])
    for admin in admins:
        try:
            _pg_ensure_role_and_db(cfg, admin)
            say(f"ensured role {cfg.pg_user!r} and database {cfg.pg_database!r} on the existing server")
            return
        except (StackError, OSError):
            continue


def postgres_stop(cfg: Config | None = None) -> None:
    """Stop our cluster with `pg_ctl stop -m fast` (immediate if that times out). Data is kept."""
    cfg = cfg or load_config()
    with _state_lock(cfg):
        pid = _pg_running_pid(cfg)
        if not pid:
            if pg_ready(cfg):
                say(f"PostgreSQL at {cfg.pg_host}:{cfg.pg_port} was not started by this script; leaving it alone")
            return
        bindir = _pg_bindir()
        if not bindir:
            raise StackError("pg_ctl not found; cannot stop PostgreSQL")
        say(f"stopping PostgreSQL (pid {pid})")
        pg_ctl = str(bindir / "pg_ctl")
        proc = subprocess.run(_pg_as_owner([pg_ctl, "-D", str(cfg.pg_data), "-m", "fast", "-w", "-t", "60", "stop"]),
                              text=True, capture_output=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0 and _pg_running_pid(cfg):
            say("fast shutdown did not finish; using immediate mode")
            _run(_pg_as_owner([pg_ctl, "-D", str(cfg.pg_data), "-m", "immediate", "-w", "stop"]), check=False)
        say("PostgreSQL stopped")


# ---------------------------------------------------------------------------
# Whole stack
# ---------------------------------------------------------------------------


def up() -> None:
    """Start (or confirm) Kafka and PostgreSQL, then print where they are."""
    cfg = load_config()
    with _state_lock(cfg):
        kafka_start(cfg)
        postgres_start(cfg)
    print_summary(cfg)


def down(purge: bool = False) -> None:
    """Stop both servers we started (keeping data unless purge=True, which deletes the state folder)."""
    cfg = load_config()
    with _state_lock(cfg):
        kafka_stop(cfg)
        postgres_stop(cfg)
        if purge and cfg.state.exists():
            say(f"deleting {cfg.state}")
            for child in cfg.state.iterdir():
                if child.name != ".lock":
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            sock = cfg.pg_socket_dir
            if not str(sock).startswith(str(cfg.state)) and sock.exists():
                shutil.rmtree(sock, ignore_errors=True)
    if purge:
        with contextlib.suppress(OSError):
            (cfg.state / ".lock").unlink()
            cfg.state.rmdir()


def restart_kafka() -> None:
    kafka_stop()
    kafka_start()


def restart_postgres() -> None:
    postgres_stop()
    postgres_start()


def status(cfg: Config | None = None) -> bool:
    """Print running/stopped for each server; True when both answer."""
    cfg = cfg or load_config()
    kpid = _kafka_running_pid(cfg)
    k_ok = port_answers(cfg.kafka_host, cfg.kafka_port)
    ppid = _pg_running_pid(cfg)
    p_ok = pg_ready(cfg)
    print(f"kafka     {_state_word(k_ok, kpid)}  {cfg.kafka_bootstrap}")
    print(f"postgres  {_state_word(p_ok, ppid)}  {cfg.pg_host}:{cfg.pg_port}")
    return k_ok and p_ok


def _state_word(answers: bool, pid: int | None) -> str:
    if answers and pid:
        return f"running (pid {pid})"
    if answers:
        return "running (external, not managed here)"
    if pid:
        return f"starting/unresponsive (pid {pid})"
    return "stopped"


def print_summary(cfg: Config) -> None:
    """The block every `up` ends with: where to connect and where to look."""
    version = ""
    if _kafka_running_pid(cfg):
        with contextlib.suppress(OSError):
            version = f" (Kafka {(cfg.kafka_dir / 'version').read_text().strip()})"
    print("Leadflow local stack")
    print(f"  LEADFLOW_KAFKA_BOOTSTRAP={cfg.kafka_bootstrap}{version}")
    print(f"  LEADFLOW_DATABASE_URL={cfg.database_url}")
    if _kafka_running_pid(cfg):
        print(f"  kafka log:    {cfg.kafka_log}")
    if _pg_running_pid(cfg):
        print(f"  postgres log: {cfg.pg_log}")
    print(f"  state:        {cfg.state}")


def logs(which: str = "all", lines: int = 40, follow: bool = False) -> None:
    """Show the tail of the server logs, optionally following them."""
    cfg = load_config()
    paths = {"kafka": cfg.kafka_log, "postgres": cfg.pg_log}
    chosen = list(paths.values()) if which == "all" else [paths[which]]
    for p in chosen:
        print(f"==> {p} <==")
        print(_tail(p, lines))
    if follow:
        positions = {p: (p.stat().st_size if p.exists() else 0) for p in chosen}
        try:
            while True:
                for p in chosen:
                    if not p.exists():
                        continue
                    size = p.stat().st_size
                    if size < positions[p]:
                        positions[p] = 0  # rotated by a restart
                    if size > positions[p]:
                        with open(p, "rb") as fh:
                            fh.seek(positions[p])
                            sys.stdout.write(fh.read().decode(errors="replace"))
                            sys.stdout.flush()
                        positions[p] = size
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local Kafka + PostgreSQL for Leadflow (no Docker).")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up", help="start both servers (idempotent)")
    p_down = sub.add_parser("down", help="stop both servers, keeping data")
    p_down.add_argument("--purge", action="store_true", help="also delete the state folder")
    sub.add_parser("status", help="exit 0 if both answer, 3 otherwise")
    p_logs = sub.add_parser("logs", help="show server logs")
    p_logs.add_argument("which", nargs="?", choices=["all", "kafka", "postgres"], default="all")
    p_logs.add_argument("-n", "--lines", type=int, default=40)
    p_logs.add_argument("-f", "--follow", action="store_true")
    for name in ("start-kafka", "stop-kafka", "restart-kafka",
                 "start-postgres", "stop-postgres", "restart-postgres"):
        sub.add_parser(name)
    args = parser.parse_args(argv)

    actions = {
        "up": up,
        "down": lambda: down(purge=args.purge),
        "start-kafka": kafka_start,
        "stop-kafka": kafka_stop,
        "restart-kafka": restart_kafka,
        "start-postgres": postgres_start,
        "stop-postgres": postgres_stop,
        "restart-postgres": restart_postgres,
        "logs": lambda: logs(args.which, args.lines, args.follow),
    }
    try:
        if args.cmd == "status":
            return 0 if status() else 3
        actions[args.cmd]()
    except StackError as exc:
        print(f"[stack] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
