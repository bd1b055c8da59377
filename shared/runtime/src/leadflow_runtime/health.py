"""Liveness (are our loops making progress?) and readiness (do our dependencies answer?).

Liveness never fails because a dependency is down - that would only cause restart storms;
readiness does. Each readiness evaluation (every probe) also sets ``leadflow_readiness_check_up``,
so an alert can name the dependency that does not answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import Gauge

ReadinessCheck = Callable[[], Awaitable[None]]

READY = Gauge("leadflow_readiness_check_up", "1 if the dependency answered the last readiness check, else 0.", ["check"])


@dataclass
class Heartbeat:
    """A loop beats once per iteration; it is stuck when it has not beaten for ``max_silence`` seconds."""

    name: str
    max_silence: float = 60.0
    last_beat: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.last_beat = time.monotonic()

    def silence(self) -> float:
        return time.monotonic() - self.last_beat


@dataclass
class Health:
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    heartbeats: list[Heartbeat] = field(default_factory=list)
    check_timeout: float = 2.0

    def heartbeat(self, name: str, max_silence: float = 60.0) -> Heartbeat:
        hb = Heartbeat(name, max_silence)
        self.heartbeats.append(hb)
        return hb

    def live(self) -> tuple[bool, dict[str, object]]:
        checks = {}
        ok = True
        for hb in self.heartbeats:
            silent = hb.silence()
            passing = silent <= hb.max_silence
            ok &= passing
            checks[hb.name] = {"status": "pass" if passing else "fail", "seconds_since_progress": round(silent, 3)}
        return ok, checks

    async def ready(self) -> tuple[bool, dict[str, object]]:
        async def run(name: str, check: ReadinessCheck) -> tuple[str, dict[str, object]]:
            try:
                await asyncio.wait_for(check(), self.check_timeout)
                return name, {"status": "pass"}
            except Exception as exc:  # any failure of a dependency means "not ready"
                return name, {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}

        results = dict(await asyncio.gather(*(run(n, c) for n, c in self.readiness.items())))
        for name, result in results.items():
            READY.labels(name).set(1 if result["status"] == "pass" else 0)
        return all(r["status"] == "pass" for r in results.values()), results


def health_router(health: Health) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", summary="Liveness: the service's loops make progress")
    async def live() -> JSONResponse:
        ok, checks = health.live()
        return JSONResponse({"status": "pass" if ok else "fail", "checks": checks}, status_code=200 if ok else 503)

    @router.get("/health/ready", summary="Readiness: Kafka and PostgreSQL answer")
    async def ready() -> JSONResponse:
        ok, checks = await health.ready()
        return JSONResponse({"status": "pass" if ok else "fail", "checks": checks}, status_code=200 if ok else 503)

    return router
