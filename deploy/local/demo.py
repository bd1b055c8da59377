#!/usr/bin/env python3
"""Leadflow local demo: the three services and a sales webhook receiver on a scripted scenario.

    make demo                                   # = make up, then: demo.py run
    .venv/bin/python deploy/local/demo.py run     # (re)start everything, post the scenario, print the journeys
    .venv/bin/python deploy/local/demo.py status  # which demo processes run, and where
    .venv/bin/python deploy/local/demo.py stop    # SIGTERM them (SIGKILL after 15 s); `make down` calls this

``run`` needs Kafka and PostgreSQL running with topics created and schemas migrated (``make up``).
It starts the receiver (``receiver.py``) and ``leadflow_{ingest,scoring,handover}.cli serve`` as
detached processes - logs and pid files in ``deploy/local/.state/demo/`` - restarting any that
run already, so they always use the current configuration. Every touchpoint carries the event id
``demo-<lead>-<n>``, so running the demo again records nothing twice: the journeys stay the same
and sales is not notified again (the receiver's log, kept in the state folder, still shows the
notifications of the earlier run).

``run`` needs the project's virtualenv (httpx and the leadflow packages); ``status`` and ``stop``
need only the standard library.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
STATE = Path(os.environ.get("LEADFLOW_LOCAL_STATE") or HERE / ".state").expanduser().resolve() / "demo"
SCENARIO = HERE / "demo_scenario.json"
SECRET_FILE = STATE / "secret"
DASHBOARD_KEY_FILE = STATE / "dashboard-key"
NOTIFICATIONS = STATE / "notifications.jsonl"
POSTED = STATE / "posted.json"
HOST = "127.0.0.1"
DESTINATION = "sales-inbox"
READY_TIMEOUT = 60.0
SETTLE_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
DEFAULT_KAFKA = "127.0.0.1:9092"
DEFAULT_DATABASE = "postgresql+asyncpg://leadflow:leadflow@127.0.0.1:5432/leadflow"


def _port(var: str, default: int) -> int:
    value = os.environ.get(var, "").strip()
    return int(value) if value.isdigit() else default


@dataclass(frozen=True)
class Proc:
    name: str
    port: int
    marker: str     # part of our process's command line: tells our process from a recycled pid
    home: str       # the page to look at

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return STATE / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return STATE / f"{self.name}.log"


RECEIVER = Proc("receiver", _port("LEADFLOW_DEMO_RECEIVER_PORT", 8099), "receiver.py", "/notifications")
INGEST = Proc("ingest", _port("LEADFLOW_INGEST_PORT", 8000), "leadflow_ingest.cli", "/docs")
SCORING = Proc("scoring", _port("LEADFLOW_SCORING_PORT", 8001), "leadflow_scoring.cli", "/v1/leads")
HANDOVER = Proc("handover", _port("LEADFLOW_HANDOVER_PORT", 8002), "leadflow_handover.cli", "/v1/deliveries")
PROCS = (RECEIVER, INGEST, SCORING, HANDOVER)
PORT_VARS = {"ingest": "LEADFLOW_INGEST_PORT", "scoring": "LEADFLOW_SCORING_PORT", "handover": "LEADFLOW_HANDOVER_PORT"}


class DemoError(Exception):
    """Stops the demo with a message for the person running it."""


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- processes

def _proc_stat_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0] if ")" in stat else None


def alive(pid: int) -> bool:
    try:  # reap it if it is our own child that has exited (a zombie still answers kill 0)
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except (ChildProcessError, OSError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _proc_stat_state(pid) not in ("Z", "X")


def cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None


def our_pid(proc: Proc) -> int | None:
    """The pid of our running process for ``proc``; a stale pid file is removed."""
    try:
        pid = int(proc.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if alive(pid):
        cmd = cmdline(pid)
        if cmd is None and not Path("/proc").is_dir():
            return pid  # no /proc (macOS): trust the pid file
        if cmd is not None and proc.marker in cmd:
            return pid
    proc.pid_file.unlink(missing_ok=True)
    return None


def _signal(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:  # started with start_new_session: the group is ours alone
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_procs(procs: tuple[Proc, ...] = PROCS, timeout: float = STOP_TIMEOUT, quiet: bool = False) -> list[str]:
    running = {p: pid for p in procs if (pid := our_pid(p)) is not None}
    for pid in running.values():
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in running.values()):
        time.sleep(0.1)
    killed = []
    for p, pid in running.items():
        if alive(pid):
            killed.append(p.name)
            _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(pid) for pid in running.values()):
        time.sleep(0.1)
    for p in procs:
        p.pid_file.unlink(missing_ok=True)
    if not quiet:
        for p, pid in running.items():
            how = f"killed after {timeout:g} s" if p.name in killed else "stopped"
            print(f"  {p.name:<9} {how} (pid {pid})")
    return [p.name for p in running]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def port_owner(port: int) -> tuple[int, str] | None:
    """(pid, command line) of the process listening on ``port``, when /proc tells us."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rpartition(":")[2], 16) == port:
                inodes.add(parts[9])
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pid = int(entry.name)
                    return pid, cmdline(pid) or "?"
        except OSError:
            continue
    return None


def port_taken_message(proc: Proc) -> str:
    owner = port_owner(proc.port)
    what = f"pid {owner[0]} ({owner[1][:80]})" if owner else "another program"
    how = (f"stop it (`kill {owner[0]}`)" if owner else
           f"find it with `ss -ltnp 'sport = :{proc.port}'` or `lsof -i :{proc.port}` and stop it")
    return (f"port {proc.port} (needed by the demo's {proc.name}) is in use by {what}, which is not part of the demo.\n"
            f"Free the port - {how} - and run `make demo` again.")


# --------------------------------------------------------------------------- configuration

def load_or_create_secret() -> str:
    if SECRET_FILE.exists():
        secret = SECRET_FILE.read_text().strip()
        try:
            if secret.startswith("whsec_") and len(base64.b64decode(secret[6:], validate=True)) >= 16:
                return secret
        except ValueError:
            pass
        print(f"  {rel(SECRET_FILE)} does not hold a valid whsec_ secret; making a new one")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def dashboard_key() -> str:
    """The dashboard's admin key for the demo: made once, kept in the state folder (mode 600)."""
    if DASHBOARD_KEY_FILE.exists():
        key = DASHBOARD_KEY_FILE.read_text().strip()
        if len(key) >= 16:
            return key
    key = secrets.token_urlsafe(24)
    DASHBOARD_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(DASHBOARD_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def hooks_url() -> str:
    return f"{RECEIVER.url}/hooks/sales"


def service_env(secret: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LEADFLOW_KAFKA_BOOTSTRAP", DEFAULT_KAFKA)
    env.setdefault("LEADFLOW_DATABASE_URL", DEFAULT_DATABASE)
    env.update({
        "LEADFLOW_LOG_FORMAT": "json",
        "LEADFLOW_HTTP_HOST": HOST,
        PORT_VARS["ingest"]: str(INGEST.port),
        PORT_VARS["scoring"]: str(SCORING.port),
        PORT_VARS["handover"]: str(HANDOVER.port),
        "LEADFLOW_HANDOVER_DESTINATIONS": json.dumps(
            [{"name": DESTINATION, "url": hooks_url(), "secrets": [secret], "stages": ["sql"]}]
        ),
        "LEADFLOW_HANDOVER_LEAD_URL": f"{SCORING.url}/v1/leads/{{lead_id}}",
        "LEADFLOW_SCORING_ADMIN_KEY": dashboard_key(),
        "LEADFLOW_DASHBOARD_HANDOVER_URL": HANDOVER.url,
        "PYTHONUNBUFFERED": "1",
    })
    return env


def command(proc: Proc) -> list[str]:
    if proc is RECEIVER:
        return [sys.executable, str(HERE / "receiver.py"), "--host", HOST, "--port", str(proc.port),
                "--secret-file", str(SECRET_FILE), "--log", str(NOTIFICATIONS)]
    return [sys.executable, "-m", proc.marker, "serve"]


def host_port(value: str, default_port: int) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host:
        return value, default_port
    return host.strip("[]"), int(port) if port.isdigit() else default_port


def check_stack(env: dict[str, str]) -> None:
    kafka = env["LEADFLOW_KAFKA_BOOTSTRAP"].split(",")[0].strip()
    db = urlsplit(env["LEADFLOW_DATABASE_URL"])
    for what, (host, port) in (("Kafka", host_port(kafka, 9092)), ("PostgreSQL", (db.hostname or HOST, db.port or 5432))):
        try:
            with socket.create_connection((host, port), timeout=2):
                pass
        except OSError:
            raise DemoError(f"{what} does not answer at {host}:{port}. Start Kafka and PostgreSQL with `make up` "
                            f"(or `python3 deploy/local/stack.py up && make init`), then run the demo again.") from None


def readable(line: str, width: int = 400) -> str:
    """A JSON log line as ``time level event key=value``, a traceback cut to its last line."""
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if isinstance(entry, dict) and "event" in entry:
        exc = str(entry.pop("exception", "")).strip().splitlines()
        head = [str(entry.pop(k, "")) for k in ("timestamp", "level", "event")]
        entry.pop("service", None)
        errors = [x.strip() for x in exc if re.match(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b.*:", x.strip())]
        last = errors[-1] if errors else exc[-1] if exc else ""
        line = " ".join([*head, *(f"{k}={v}" for k, v in entry.items())] + ([f"| {last}"] if last else []))
    return line if len(line) <= width else line[: width - 1] + "…"


MISSING = re.compile(r'(relation|column) (\\?"[^"\\]+\\?"|[\w.]+)( of relation \\?"[^"\\]+\\?")? does not exist')


def schema_missing(path: Path) -> str | None:
    """'relation "x" does not exist' when the service's log says so (migrations not applied)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    m = MISSING.search(text)
    return m.group(0).replace('\\"', '"') if m else None


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join("  " + readable(x) for x in path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "  (no log)"


# --------------------------------------------------------------------------- scenario

AT = re.compile(r"^-(\d+)d\s+(\d{1,2}):(\d{2})$")


@dataclass
class Step:
    lead: Lead
    n: int
    type: str
    at: datetime | None            # None: now (ingest stamps it)
    properties: dict[str, Any]
    profile: dict[str, Any]
    event_id: str = ""             # the server's id for it, from ingest's answer

    @property
    def sender_id(self) -> str:
        return f"demo-{self.lead.key}-{self.n}"

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "email": self.lead.email, "event_id": self.sender_id,
                                "properties": self.properties}
        if self.lead.anonymous_id:
            body["anonymous_id"] = self.lead.anonymous_id
        if self.at is not None:
            body["occurred_at"] = self.at.isoformat()
        if self.profile:
            body["profile"] = self.profile
        return body


@dataclass
class Lead:
    key: str
    email: str
    anonymous_id: str | None
    profile: dict[str, Any]
    story: str
    expect: str
    steps: list[Step] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    detail: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        p = (self.detail or {}).get("profile") or self.profile
        return " ".join(x for x in (p.get("first_name"), p.get("last_name")) if x) or self.email


def when(text: str | None, now: datetime) -> datetime | None:
    if text is None or text == "now":
        return None
    m = AT.match(text.strip())
    if not m:
        raise DemoError(f"{rel(SCENARIO)}: 'at' must be 'now' or '-<days>d HH:MM', not {text!r}")
    days, hour, minute = (int(g) for g in m.groups())
    at = datetime.combine((now - timedelta(days=days)).date(), clock(hour, minute)).astimezone()
    return min(at, now - timedelta(minutes=1))


def load_scenario(path: Path = SCENARIO) -> list[Lead]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DemoError(f"cannot read the scenario {rel(path)}: {exc}") from exc
    now = datetime.now().astimezone()
    try:
        leads = _leads(raw, now, path)
    except (KeyError, TypeError, AttributeError) as exc:
        raise DemoError(f"{rel(path)} is malformed ({type(exc).__name__}: {exc}); see the notes at its top") from exc
    keys = [lead.key for lead in leads]
    if len(set(keys)) != len(keys) or len({lead.email for lead in leads}) != len(leads):
        raise DemoError(f"{rel(path)}: every lead needs its own key and e-mail")
    return leads


def _leads(raw: dict[str, Any], now: datetime, path: Path) -> list[Lead]:
    leads = []
    for item in raw["leads"]:
        lead = Lead(item["key"], item["email"], item.get("anonymous_id"), item.get("profile", {}), item.get("story", ""),
                    item.get("expect", "lead"))
        previous = None
        for n, tp in enumerate(item["touchpoints"], 1):
            profile = {**(lead.profile if n == 1 else {}), **tp.get("profile", {})}
            step = Step(lead, n, tp["type"], when(tp.get("at"), now), tp.get("properties", {}), profile)
            if previous is not None and (previous.at is None and step.at is not None or
                                         previous.at and step.at and step.at < previous.at):
                raise DemoError(f"{rel(path)}: the touchpoints of {lead.key!r} are not in time order at #{n}")
            previous = step
            lead.steps.append(step)
        leads.append(lead)
    return leads


def posting_order(leads: list[Lead]) -> list[Step]:
    """All touchpoints in time order, as they would have arrived; the 'now' ones last, in file order."""
    steps = [s for lead in leads for s in lead.steps]
    far = datetime.max.replace(tzinfo=datetime.now().astimezone().tzinfo)
    return [s for _, s in sorted(enumerate(steps), key=lambda p: (p[1].at or far, p[0] if p[1].at is None else 0))]


# --------------------------------------------------------------------------- run

def progress(text: str, final: bool = False) -> None:
    if sys.stdout.isatty():
        print("\r" + text, end="\n" if final else "", flush=True)
    elif final:
        print(text, flush=True)


def wait_ready(started: dict[Proc, subprocess.Popen[bytes]]) -> float:
    import httpx

    t0 = time.monotonic()
    deadline = t0 + READY_TIMEOUT
    pending = dict(started)
    last: dict[Proc, str] = {}
    with httpx.Client(timeout=2) as client:
        while pending:
            for proc, popen in list(pending.items()):
                if popen.poll() is not None:
                    raise DemoError(f"{proc.name} exited with code {popen.returncode} while starting. "
                                    f"Last lines of {rel(proc.log_file)}:\n{tail(proc.log_file)}")
                missing = schema_missing(proc.log_file)
                if missing:  # not transient: waiting the full minute would not help
                    raise DemoError(f"{proc.name} cannot start: {missing} - the database schema is older than the code. "
                                    f"Run `make init` (applies the migrations), then the demo again.\n"
                                    f"Last lines of {rel(proc.log_file)}:\n{tail(proc.log_file, 10)}")
                try:
                    r = client.get(f"{proc.url}/health/ready")
                    if r.status_code == 200:
                        del pending[proc]
                        continue
                    last[proc] = f"{r.status_code} {r.text[:300]}"
                except httpx.HTTPError as exc:
                    last[proc] = f"{type(exc).__name__}: {exc}"
            if not pending:
                break
            if time.monotonic() > deadline:
                proc = next(iter(pending))
                raise DemoError(f"{proc.name} was not ready after {READY_TIMEOUT:g} s ({proc.url}/health/ready: "
                                f"{last.get(proc, 'no answer')}). Last lines of {rel(proc.log_file)}:\n{tail(proc.log_file)}")
            time.sleep(0.3)
        for proc, path in ((SCORING, "/v1/leads?limit=1"), (HANDOVER, "/v1/deliveries?limit=1")):
            r = client.get(proc.url + path)
            if r.status_code != 200:
                raise DemoError(f"{proc.name} answers {r.status_code} on {path} - are the schemas migrated? Run `make init`.\n"
                                f"Last lines of {rel(proc.log_file)}:\n{tail(proc.log_file)}")
    return time.monotonic() - t0


def start_all(secret: str) -> None:
    env = service_env(secret)
    check_stack(env)
    running = {p: pid for p in PROCS if (pid := our_pid(p)) is not None}
    for p in PROCS:
        if p not in running and port_in_use(p.port):
            raise DemoError(port_taken_message(p))
    if running:
        print("restarting the demo processes that run already, so they use the current configuration")
        stop_procs(quiet=True)
        for p in PROCS:
            if port_in_use(p.port):
                raise DemoError(port_taken_message(p))
    STATE.mkdir(parents=True, exist_ok=True)
    started: dict[Proc, subprocess.Popen[bytes]] = {}
    try:
        for p in PROCS:
            with p.log_file.open("wb") as log:
                popen = subprocess.Popen(command(p), cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            p.pid_file.write_text(f"{popen.pid}\n")
            started[p] = popen
        print(f"starting {', '.join(p.name for p in PROCS)} (logs in {rel(STATE)}/)... ", end="", flush=True)
        took = wait_ready(started)
        print(f"ready in {took:.1f} s")
    except BaseException:
        print()
        stop_procs(quiet=True)
        raise


class Posted:
    """When each touchpoint was POSTed, per event id, across runs (to time the notifications)."""

    def __init__(self) -> None:
        try:
            self.times: dict[str, list[float]] = json.loads(POSTED.read_text())
        except (OSError, ValueError):
            self.times = {}

    def add(self, event_id: str, at: float) -> None:
        self.times[event_id] = (self.times.get(event_id, []) + [at])[-20:]

    def save(self) -> None:
        POSTED.write_text(json.dumps(self.times))

    def before(self, event_id: str | None, at: float) -> float | None:
        earlier = [t for t in self.times.get(event_id or "", []) if t <= at]
        return max(earlier) if earlier else None


def api_key_headers() -> dict[str, str]:
    try:
        keys = json.loads(os.environ.get("LEADFLOW_INGEST_API_KEYS") or "[]")
    except ValueError:
        keys = []
    return {"Authorization": f"Bearer {keys[0]}"} if keys else {}


def post_all(client: Any, leads: list[Lead], posted: Posted) -> None:
    steps = posting_order(leads)
    total = len(steps)
    label = f"posting {total} touchpoints to {INGEST.url}/v1/touchpoints..."
    headers = api_key_headers()
    for i, step in enumerate(steps, 1):
        for attempt in range(1, 5):
            t = time.time()
            r = client.post(f"{INGEST.url}/v1/touchpoints", json=step.body(), headers=headers)
            if r.status_code == 503 and attempt < 4:
                time.sleep(min(float(r.headers.get("retry-after") or 1), 5))
                continue
            break
        if r.status_code != 202:
            print()
            hint = " - are the topics created? Run `make init`." if r.status_code == 503 else ""
            raise DemoError(f"ingest answered {r.status_code} to {step.sender_id} ({step.type} for {step.lead.email}){hint}\n"
                            f"{r.text[:600]}\nLast lines of {rel(INGEST.log_file)}:\n{tail(INGEST.log_file, 10)}")
        step.event_id = r.json()["event_id"]
        posted.add(step.event_id, t)
        progress(f"{label} {i}/{total}")
    posted.save()
    progress(f"{label} {total}/{total} accepted", final=True)


def settle(client: Any, leads: list[Lead]) -> None:
    t0 = time.monotonic()
    deadline = t0 + SETTLE_TIMEOUT
    label = "waiting for scoring..."
    while True:
        for lead in leads:
            if lead.summary and lead.summary["touchpoint_count"] >= len(lead.steps):
                continue
            r = client.get(f"{SCORING.url}/v1/leads", params={"email": lead.email, "limit": 1})
            items = r.json().get("items", []) if r.status_code == 200 else []
            lead.summary = items[0] if items else None
        done = sum(1 for lead in leads if lead.summary and lead.summary["touchpoint_count"] >= len(lead.steps))
        progress(f"{label} {done}/{len(leads)} leads scored")
        if done == len(leads) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    late = "" if done == len(leads) else f" - gave up after {SETTLE_TIMEOUT:g} s, see {rel(SCORING.log_file)}"
    progress(f"{label} {done}/{len(leads)} leads scored ({time.monotonic() - t0:.1f} s){late}", final=True)

    # Sales is notified about the leads that should reach SQL (and did; a miss is reported below).
    expected = {lead.summary["lead_id"] for lead in leads if lead.expect == "sql" and lead.summary and lead.summary["stage"] == "sql"}
    label = "waiting for the handover to sales..."
    t0 = time.monotonic()
    deadline = t0 + SETTLE_TIMEOUT
    while True:
        r = client.get(f"{HANDOVER.url}/v1/deliveries", params={"destination": DESTINATION, "limit": 1000})
        deliveries = r.json() if r.status_code == 200 else []
        settled = {d["lead_id"] for d in deliveries if d["lead_id"] in expected and d["status"] != "pending"}
        progress(f"{label} {len(settled)}/{len(expected)} SQL leads delivered")
        if len(settled) >= len(expected) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    late = "" if len(settled) >= len(expected) else f" - gave up after {SETTLE_TIMEOUT:g} s, see {rel(HANDOVER.log_file)}"
    progress(f"{label} {len(settled)}/{len(expected)} SQL leads delivered ({time.monotonic() - t0:.1f} s){late}", final=True)


# --------------------------------------------------------------------------- printing

WIDTH = 108


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone()


def short_time(value: datetime | str | None) -> str:
    at = parse_time(value) if isinstance(value, str) or value is None else value.astimezone()
    return at.strftime("%d %b %H:%M") if at else "now         "


def url_path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def describe(kind: str, props: dict[str, Any]) -> str:
    p = props
    if "event" in p:
        text = p["event"] + (f", {p['booth']}" if "booth" in p else "")
    elif "webinar" in p:
        text = p["webinar"] + (f" ({p['minutes_watched']} min)" if "minutes_watched" in p else "")
    elif "asset" in p:
        text = p["asset"]
    elif kind == "page_viewed" and "page_url" in p:
        text = url_path(p["page_url"])
    elif "form_id" in p and kind not in ("newsletter_subscribed",):
        text = f"form '{p['form_id']}'" + (f": {p['message']}" if "message" in p else "")
    elif "campaign" in p:
        text = p["campaign"] + (f" -> {url_path(p['link'])}" if "link" in p else "")
    elif "list" in p:
        text = p["list"] + (f" ({p['reason']})" if "reason" in p else "")
    elif "survey" in p:
        text = p["survey"]
    elif "plan" in p:
        text = f"plan: {p['plan']}"
    else:
        text = ", ".join(f"{k}={v}" for k, v in p.items())
    return text if len(text) <= 40 else text[:39] + "…"


def is_fit(entry: dict[str, Any]) -> bool:
    return (entry.get("group") or entry.get("dimension")) == "fit"


def points_of(ledger: list[dict[str, Any]], event_id: str) -> tuple[str, str]:
    lines = [e for e in ledger if e.get("touchpoint_id") == event_id and not is_fit(e)]
    if not lines:
        return "0", "(no rule for this type)"
    total = sum(e["points"] for e in lines)
    rules = ", ".join(e["rule_id"] + (" (capped)" if e.get("capped") else "") for e in lines)
    return f"{total:+d}", rules


def fit_text(ledger: list[dict[str, Any]]) -> str:
    fit = [e for e in ledger if is_fit(e)]
    return ", ".join(f"{e['rule_id']} {e['points']:+d}" for e in fit) or "no fit rule matched"


def profile_text(profile: dict[str, Any]) -> str:
    bits = [profile.get("job_title"), profile.get("company")]
    where = ", ".join(str(x) for x in (profile.get("country"), profile.get("company_size") and f"{profile['company_size']} staff") if x)
    text = ", ".join(str(b) for b in bits if b)
    return f"{text} ({where})" if where and text else text or where


def print_journeys(client: Any, leads: list[Lead]) -> list[str]:
    problems: list[str] = []
    stages: dict[str, int] = {}
    total = sum(len(lead.steps) for lead in leads)
    print()
    print(f"LEAD JOURNEYS - {len(leads)} leads, {total} touchpoints (local times; points when recorded; scores as of now)")
    for i, lead in enumerate(leads, 1):
        print()
        if not lead.summary:
            print(f"{i:>2}. {lead.email}: no lead recorded (scoring did not catch up)")
            problems.append(f"{lead.email}: not scored")
            continue
        r = client.get(f"{SCORING.url}/v1/leads/{lead.summary['lead_id']}")
        lead.detail = d = r.json()
        head, about = f"{i:>2}. {lead.name} <{lead.email}>", profile_text(d.get("profile") or {})
        print(f"{head}, {about}" if len(head) + len(about) + 2 <= WIDTH else f"{head}\n    {about}")
        for line in textwrap.wrap(lead.story, WIDTH - 4):
            print(f"    {line}")
        recorded = {t["event_id"]: t for t in d["touchpoints"]}
        for step in lead.steps:
            tp = recorded.get(step.event_id)
            pts, rules = points_of(d["ledger"], step.event_id) if tp else ("", "(not scored yet)")
            at = short_time(tp["occurred_at"] if tp else step.at)
            print(f"    {at}  {step.type:<22}{describe(step.type, step.properties):<41}{pts:>4}  {rules}")
        stage = d["stage"]
        stages[stage] = stages.get(stage, 0) + 1
        ok = ""
        decayed = [h for h in d["stage_history"] if h.get("cause") == "decay"]
        if stage != lead.expect and decayed:  # time passed since the first run: engagement lost its value
            ok = f"   <- recycled by decay on {short_time(decayed[-1]['occurred_at'])} (the scenario ends as {lead.expect.upper()})"
        elif stage != lead.expect:
            ok = f"   <- the scenario expects {lead.expect.upper()}"
            problems.append(f"{lead.email} ended as {stage}, the scenario expects {lead.expect}")
        print(f"    => {stage.upper():<4} {d['score']:>3} = fit {d['fit']} + engagement {d['engagement']}"
              f"   (fit: {fit_text(d['ledger'])}){ok}")
        for h in d["stage_history"]:
            if h["from_stage"] is None:
                continue
            arrow = f"{h['from_stage']} -> {h['to_stage']}"
            print(f"       {short_time(h['occurred_at'])}  {arrow:<12} {h['reason']}")
    print()
    counts = ", ".join(f"{stages[s]} {s.upper()}" for s in ("sql", "mql", "lead") if s in stages)
    others = ", ".join(f"{n} {s.upper()}" for s, n in stages.items() if s not in ("sql", "mql", "lead"))
    verdict = " - as the scenario expects." if not problems else " - NOT as the scenario expects (see the end)."
    print(f"Final stages: {', '.join(x for x in (counts, others) if x)}{verdict}")
    return problems


def receiver_log(client: Any) -> list[dict[str, Any]]:
    try:
        r = client.get(f"{RECEIVER.url}/notifications")
        if r.status_code == 200:
            return r.json()
    except Exception:  # the log file says the same
        pass
    entries = []
    if NOTIFICATIONS.exists():
        for line in NOTIFICATIONS.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries


def print_notifications(client: Any, leads: list[Lead], posted: Posted, run_started: float) -> list[str]:
    problems: list[str] = []
    entries = receiver_log(client)
    details = {lead.detail["lead_id"]: lead.detail for lead in leads if lead.detail}
    print()
    print(f"SALES NOTIFICATIONS received at {hooks_url()} (log {rel(NOTIFICATIONS)})")
    valid: dict[str, dict[str, Any]] = {}
    duplicates = 0
    invalid = [e for e in entries if not e.get("signature_valid")]
    for e in entries:
        if e.get("signature_valid"):
            if e.get("webhook_id") in valid:
                duplicates += 1
            else:
                valid[e["webhook_id"]] = e
    def received_ts(e: dict[str, Any]) -> float:
        at = parse_time(e.get("received_at"))
        return at.timestamp() if at else 0.0

    earlier = [e for e in valid.values() if received_ts(e) < run_started]
    if earlier:
        which = f"All {len(valid)}" if len(earlier) == len(valid) else f"{len(earlier)} (marked 'earlier run')"
        print(f"  {which} already handed over in an earlier run: this run sent the same event ids again, Leadflow")
        print("  recorded them once, so sales was not notified twice.")
    if valid:
        print(f"  {'lead':<44}{'stage':<6}{'score':>5}  {'signed':<7}{'delay':>8}   (from the POST of the qualifying touchpoint)")
    for e in sorted(valid.values(), key=lambda x: x.get("received_at", "")):
        p = e.get("payload") if isinstance(e.get("payload"), dict) else {}
        lead = p.get("lead") or {}
        received = parse_time(e.get("received_at"))
        rts = received_ts(e)
        detail = details.get(lead.get("id", ""))
        if detail is None and lead.get("id"):
            r = client.get(f"{SCORING.url}/v1/leads/{lead['id']}")
            detail = r.json() if r.status_code == 200 else None
        change = next((h for h in (detail or {}).get("stage_history", []) if h["event_id"] == p.get("stage_event_id")), None)
        sent = posted.before(change and change.get("touchpoint_id"), rts)
        took = f"{(rts - sent) * 1000:,.0f} ms" if sent else "?"
        note = f"   earlier run, {short_time(received)}" if rts < run_started else ""
        score = (p.get("scores") or {}).get("score", "")
        print(f"  {str(lead.get('email')):<44}{str(p.get('stage', '?')):<6}{score:>5}  {'yes':<7}{took:>8}{note}")
        print(f"      why: {p.get('why', '?')}")
    for e in invalid:
        p = e.get("payload") if isinstance(e.get("payload"), dict) else {}
        email = ((p.get("lead") or {}).get("email")) or "?"
        print(f"  {email:<44}{'':<6}{'':>5}  {'NO':<7}{'':>8}   answered 401: {e.get('error')} ({short_time(e.get('received_at'))})")
    if not entries:
        print("  (none)")
    if duplicates:
        print(f"  ({duplicates} repeated deliveries of an already received webhook-id; a receiver ignores those)")

    notified = {((e.get("payload") or {}).get("lead") or {}).get("email") for e in valid.values()}
    r = client.get(f"{HANDOVER.url}/v1/deliveries", params={"destination": DESTINATION, "limit": 1000})
    deliveries = r.json() if r.status_code == 200 else []
    ids = {lead.detail["lead_id"]: lead for lead in leads if lead.detail}
    ours = [d for d in deliveries if d["lead_id"] in ids]
    succeeded = [d for d in ours if d["status"] == "succeeded"]
    first = sum(1 for d in succeeded if d["attempts"] == 1)
    print(f"  deliveries for the demo leads ({HANDOVER.url}/v1/deliveries): {len(ours)}, {len(succeeded)} succeeded "
          f"({first} on the first attempt)")
    for d in ours:
        if d["status"] != "succeeded":
            print(f"    ! {ids[d['lead_id']].email}: {d['status']} after {d['attempts']} attempt(s); last error: "
                  f"{d.get('last_error') or d.get('last_status_code')}")
    for lead in leads:
        if lead.expect == "sql" and lead.email not in notified:
            problems.append(f"{lead.email}: expected a notification to sales, none in the receiver's log")
    return problems


def print_links(leads: list[Lead]) -> None:
    example = next((lead.detail["lead_id"] for lead in leads if lead.detail), "<lead_id>")
    rows = [
        ("ingest API docs", f"{INGEST.url}/docs"),
        ("leads", f"{SCORING.url}/v1/leads   (only SQLs: {SCORING.url}/v1/leads?stage=sql)"),
        ("one lead", f"{SCORING.url}/v1/leads/{example}"),
        ("lead API docs", f"{SCORING.url}/docs"),
        ("deliveries", f"{HANDOVER.url}/v1/deliveries"),
        ("metrics", f"http://{HOST}:{{{INGEST.port},{SCORING.port},{HANDOVER.port}}}/metrics"),
        ("sales notifications", f"{RECEIVER.url}/notifications"),
        ("service logs", f"{rel(STATE)}/{{ingest,scoring,handover,receiver}}.log"),
    ]
    print()
    print("LOOK AROUND")
    for label, url in rows:
        print(f"  {label:<21}{url}")
    print()
    print(f"DASHBOARD  {SCORING.url}/dashboard")
    print(f"  log in with the admin key {dashboard_key()}  (kept in {rel(DASHBOARD_KEY_FILE)})")
    print()
    print("The services keep running (`make status`); stop everything with `make down`.")


def run(scenario: Path = SCENARIO) -> int:
    for module in ("httpx", "leadflow_ingest", "leadflow_scoring", "leadflow_handover"):
        if importlib.util.find_spec(module) is None:
            raise DemoError(f"{module} is not importable by {sys.executable}. Run the demo with the project's virtualenv: "
                            "`make demo`, or `.venv/bin/python deploy/local/demo.py run` after `make install`.")
    import httpx

    run_started = time.time()
    leads = load_scenario(scenario)
    STATE.mkdir(parents=True, exist_ok=True)
    secret = load_or_create_secret()
    print(f"Leadflow demo: {len(leads)} leads, {sum(len(x.steps) for x in leads)} touchpoints from {rel(scenario)}")
    start_all(secret)
    posted = Posted()
    try:
        with httpx.Client(timeout=10) as client:
            post_all(client, leads, posted)
            settle(client, leads)
            problems = print_journeys(client, leads)
            problems += print_notifications(client, leads, posted, run_started)
    except httpx.HTTPError as exc:
        try:
            where = f" ({exc.request.method} {exc.request.url})"
        except RuntimeError:
            where = ""
        raise DemoError(f"{type(exc).__name__}{where}: {exc}. The logs are in {rel(STATE)}/; "
                        "`demo.py status` shows what runs.") from exc
    print_links(leads)
    if problems:
        print()
        print("WARNING - the run did not go as the scenario expects:")
        for p in problems:
            print(f"  - {p}")
        return 1
    return 0


# --------------------------------------------------------------------------- status / stop

def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def status() -> int:
    print(f"Leadflow demo processes ({rel(STATE)}/)")
    for p in PROCS:
        pid = our_pid(p)
        if pid is None:
            taken = " (port in use by something else)" if port_in_use(p.port) else ""
            print(f"  {p.name:<9} stopped  {'':<10} {'':<10} {p.url}{p.home}{taken}")
            continue
        code = http_status(f"{p.url}/health/ready")
        ready = "ready" if code == 200 else f"NOT READY ({code or 'no answer'})"
        print(f"  {p.name:<9} running  pid {pid:<6} {ready:<10} {p.url}{p.home}")
    return 0


def stop() -> int:
    if not any(our_pid(p) for p in PROCS):
        print("demo: no demo processes running")
        for p in PROCS:
            p.pid_file.unlink(missing_ok=True)
        return 0
    print("demo: stopping")
    stop_procs()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Leadflow local demo", formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="(re)start the services and the receiver, post the scenario, show what happened")
    run_p.add_argument("--scenario", type=Path, default=SCENARIO, help=f"scenario file (default {rel(SCENARIO)})")
    sub.add_parser("status", help="show which demo processes run")
    sub.add_parser("stop", help="stop the demo processes")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return run(args.scenario.resolve())
        return {"status": status, "stop": stop}[args.command]()
    except DemoError as exc:
        print(f"\ndemo: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `demo.py status | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("\ndemo: interrupted; `demo.py status` shows what still runs, `make down` stops it", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
