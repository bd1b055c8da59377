"""Load generators, loopback only, every loop bounded in count and time.

- ``closed_loop``: as fast as the server answers, from a fixed number of connections. Uses
  ``wrk`` (C, a Lua script makes each request) when it is installed, else ``Http11``, below.
  Either way the generator's own CPU time is reported: on two cores it competes with the
  server it measures.
- ``open_loop``: a steady rate that does not slow down when the server does (each request is
  sent at its scheduled time, whatever the earlier ones are doing).
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"benchmarks only send to this machine (loopback), not to {host}")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class Http11:
    """One keep-alive HTTP/1.1 connection that POSTs and reads ``Content-Length`` answers.

    A load generator must cost little next to the server it measures: httpx spent 2-4 ms of
    CPU per request on this machine (more than the ingest service itself), this about 50 µs.
    Loopback only; any transport error closes the connection and the next request reopens it.
    """

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        _check_loopback(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.head = f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{extra}Content-Length: ".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, timeout: float = 10) -> int | None:
        """The answer's status, or None when the request failed (connection error, timeout)."""
        try:
            return await asyncio.wait_for(self._post(body), timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ValueError):
            await self.close()
            return None

    async def _post(self, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await self.reader.readexactly(length)
        if b"connection: close" in head.lower():
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


@dataclass
class ClosedLoopResult:
    generator: str
    connections: int
    duration_s: float
    requests: int
    accepted: int
    failed: int
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: float | None
    generator_cpu_s: float

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.duration_s if self.duration_s else 0.0

    @property
    def generator_cores(self) -> float:
        return self.generator_cpu_s / self.duration_s if self.duration_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accepted_per_s": round(self.accepted_per_s, 1),
                "generator_cores": round(self.generator_cores, 2)}


# wrk runs one Lua state per thread; ``body_for(n)`` builds request n's body (or returns the fixed one).
WRK_SCRIPT = r"""
local counter = 0
local headers = {}
headers["Content-Type"] = "application/json"
%(auth)s
%(body_fn)s
request = function()
  counter = counter + 1
  return wrk.format("POST", "%(path)s", headers, body_for(counter))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"duration_us":%%d,"requests":%%d,"status_errors":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"timeout":%%d,"p50_us":%%d,"p99_us":%%d,"mean_us":%%f,"max_us":%%d}\n',
    summary.duration, summary.requests, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""

# A single touchpoint per request; e-mail, type and page vary, so the lead keys spread over partitions.
SINGLE_BODY_LUA = r"""
local kinds = {"page_viewed", "email_clicked", "form_submitted", "content_downloaded", "webinar_attended"}
local tag = tostring(math.random(1, 1000000000))
function body_for(n)
  return string.format(
    '{"type":"%s","email":"lead%d.%s@company%d.example","properties":{"page_url":"https://leadflow.example/p/%d"},' ..
    '"profile":{"job_title":"Head of IT","company_size":%d}}',
    kinds[(n % 5) + 1], n, tag, n % 97, n % 13, 10 + n % 500)
end
"""


def single_body(n: int, tag: str = "py") -> bytes:
    """The same touchpoint the Lua script sends, for the Python generator."""
    kinds = ("page_viewed", "email_clicked", "form_submitted", "content_downloaded", "webinar_attended")
    return json.dumps({
        "type": kinds[n % 5], "email": f"lead{n}.{tag}@company{n % 97}.example",
        "properties": {"page_url": f"https://leadflow.example/p/{n % 13}"},
        "profile": {"job_title": "Head of IT", "company_size": 10 + n % 500},
    }, separators=(",", ":")).encode()


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def closed_loop(
    url: str, *, connections: int, duration_s: float, api_key: str | None = None, body: bytes | None = None,
    generator: str = "auto", expect_status: int = 202,
) -> ClosedLoopResult:
    """Requests as fast as answered. ``body`` fixed, or None for varied single touchpoints."""
    _check_loopback(url)
    if generator == "auto":
        generator = "wrk" if wrk_available() else "python"
    if generator == "wrk":
        return _wrk(url, connections=connections, duration_s=duration_s, api_key=api_key, body=body)
    return asyncio.run(_python_closed_loop(url, connections=connections, duration_s=duration_s, api_key=api_key,
                                          body=body, expect_status=expect_status))


def _wrk(url: str, *, connections: int, duration_s: float, api_key: str | None, body: bytes | None) -> ClosedLoopResult:
    parts = urlsplit(url)
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as tmp:
        if body is None:
            body_fn = SINGLE_BODY_LUA
        else:
            body_path = Path(tmp) / "body.json"
            body_path.write_bytes(body)
            body_fn = (f'local f = io.open("{body_path}", "rb")\nlocal fixed = f:read("*a")\nf:close()\n'
                       "function body_for(n) return fixed end\n")
        script = Path(tmp) / "bench.lua"
        script.write_text(WRK_SCRIPT % {
            "auth": f'headers["Authorization"] = "Bearer {api_key}"' if api_key else "",
            "body_fn": body_fn, "path": parts.path,
        })
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds = max(1, round(duration_s))
        proc = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
             f"{parts.scheme}://{parts.netloc}/"],
            capture_output=True, text=True, timeout=seconds + 60,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    r = json.loads(line.removeprefix("WRKJSON "))
    failed = r["status_errors"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    return ClosedLoopResult(
        generator="wrk 4 (1 thread, Lua-built bodies)", connections=connections, duration_s=r["duration_us"] / 1e6,
        requests=r["requests"], accepted=r["requests"] - r["status_errors"], failed=failed,
        p50_ms=r["p50_us"] / 1000, p99_ms=r["p99_us"] / 1000, mean_ms=r["mean_us"] / 1000, max_ms=r["max_us"] / 1000,
        generator_cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    )


async def _python_closed_loop(
    url: str, *, connections: int, duration_s: float, api_key: str | None, body: bytes | None, expect_status: int,
) -> ClosedLoopResult:
    latencies: list[float] = []
    accepted = failed = 0
    counter = 0
    cpu0 = time.process_time()
    started = time.perf_counter()
    deadline = started + duration_s

    async def worker() -> None:
        nonlocal accepted, failed, counter
        conn = Http11(url, _headers(api_key))
        try:
            while time.perf_counter() < deadline:
                counter += 1
                t0 = time.perf_counter()
                status = await conn.post(body if body is not None else single_body(counter))
                latencies.append(time.perf_counter() - t0)
                if status == expect_status:
                    accepted += 1
                else:
                    failed += 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return ClosedLoopResult(
        generator="python asyncio HTTP/1.1 client", connections=connections, duration_s=elapsed,
        requests=len(ms), accepted=accepted, failed=failed, p50_ms=percentile(ms, 50), p99_ms=percentile(ms, 99),
        mean_ms=sum(ms) / len(ms) if ms else None, max_ms=max(ms) if ms else None,
        generator_cpu_s=time.process_time() - cpu0,
    )


@dataclass
class Sent:
    index: int
    scheduled: float  # wall clock (time.time()) the request was due
    sent: float  # wall clock just before it was written
    status: int | None
    latency_s: float


async def open_loop(
    url: str, *, rate: float, duration_s: float, body_for: Callable[[int], bytes], api_key: str | None = None,
    connections: int = 64, on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Sent], float]:
    """Send ``rate`` requests per second for ``duration_s``; return them (in order) and the CPU time used.

    A scheduler puts each request on a queue at its due time; ``connections`` workers, one
    connection each, send them. When the server falls behind the queue grows (visible as
    ``sent - scheduled``) instead of the schedule slowing down.
    """
    _check_loopback(url)
    total = int(rate * duration_s)
    sent: list[Sent] = []
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    cpu0 = time.process_time()

    async def worker() -> None:
        conn = Http11(url, _headers(api_key))
        try:
            while (item := await queue.get()) is not None:
                i, due = item
                content = body_for(i)
                t_wall = time.time()
                t0 = time.perf_counter()
                status = await conn.post(content)
                sent.append(Sent(i, due, t_wall, status, time.perf_counter() - t0))
        finally:
            await conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    start_wall, start = time.time(), time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, start_wall + i / rate))
        if on_progress and i and i % int(rate * 10) == 0:
            on_progress(i, queue.qsize())
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.wait_for(asyncio.gather(*workers), timeout=60 + total / max(connections, 1))
    return sorted(sent, key=lambda s: s.index), time.process_time() - cpu0
