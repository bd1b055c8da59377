"""Sends due deliveries: claim with a lease, send signed, record the attempt, schedule the next.

A delivery is recorded before it is sent; a crash between sending and recording lets the
lease expire and the same ``webhook-id`` is sent again - receivers dedupe on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from prometheus_client import Counter, Histogram
from sqlalchemy import and_, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_runtime.errors import is_transient
from leadflow_runtime.health import Heartbeat
from leadflow_runtime.logs import get_logger

from leadflow_handover.adapters.tables import deliveries, delivery_attempts
from leadflow_handover.domain.retry import Verdict, decide, parse_retry_after
from leadflow_handover.domain.signing import signed_headers
from leadflow_handover.settings import WebhookDestination

log = get_logger(__name__)

ATTEMPTS = Counter("leadflow_delivery_attempts_total", "Delivery attempts, by destination and verdict.", ["destination", "verdict"])
ATTEMPT_SECONDS = Histogram(
    "leadflow_delivery_attempt_duration_seconds", "Duration of one delivery attempt.", ["destination"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 30),
)
QUALIFIED_TO_DELIVERED = Histogram(
    "leadflow_handover_latency_seconds", "Time from the stage change to the first successful delivery.", ["destination"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None
    excerpt: str | None
    retry_after: float | None
    duration: float


class Dispatcher:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        destinations: Sequence[WebhookDestination],
        schedule: tuple[float, ...],
        timeout: float,
        lease_seconds: float,
        concurrency: int,
        heartbeat: Heartbeat,
        transport: httpx.AsyncBaseTransport | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.engine = engine
        self.destinations = {d.name: d for d in destinations}
        self.schedule = schedule
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.heartbeat = heartbeat
        self.poll_interval = poll_interval
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), transport=transport, follow_redirects=False,
            headers={"user-agent": "Leadflow-Webhooks/1.0"},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        await self.client.aclose()

    async def run(self) -> None:
        delay = 0.2
        while not self._stopping:
            self.heartbeat.beat()
            try:
                sent = await self.dispatch_due()
                delay = 0.2
            except Exception as exc:
                if is_transient(exc):
                    log.warning("dispatcher waiting for a dependency", error=f"{type(exc).__name__}: {exc}"[:300])
                else:
                    log.exception("dispatcher failed")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if sent:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass

    async def dispatch_due(self) -> int:
        claimed = await self._claim(self.concurrency * 2)
        if not claimed:
            return 0
        sem = asyncio.Semaphore(self.concurrency)

        async def one(row: Any) -> None:
            async with sem:
                await self._deliver(row)

        await asyncio.gather(*(one(r) for r in claimed))
        return len(claimed)

    async def _claim(self, limit: int) -> list[Any]:
        due = (
            select(deliveries.c.id)
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= func.now())
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(deliveries)
            .where(deliveries.c.id.in_(due.scalar_subquery()))
            .values(
                attempts=deliveries.c.attempts + 1,
                next_attempt_at=func.now() + text(f"interval '{float(self.lease_seconds)} seconds'"),
            )
            .returning(deliveries.c.id, deliveries.c.destination, deliveries.c.payload, deliveries.c.attempts,
                       deliveries.c.qualified_at)
        )
        async with self.engine.begin() as conn:
            return list((await conn.execute(stmt)).all())

    async def _deliver(self, row: Any) -> None:
        dest = self.destinations.get(row.destination)
        started = datetime.now(UTC)
        if dest is None:
            outcome = Outcome(None, f"destination {row.destination!r} is no longer configured", None, None, 0.0)
            decision_verdict, delay, reason = Verdict.FAILED, 0.0, outcome.error or ""
        else:
            outcome = await self._send(dest, row.id, row.payload)
            decision = decide(row.attempts, outcome.status, self.schedule, outcome.retry_after)
            decision_verdict, delay, reason = decision.verdict, decision.delay, decision.reason
        await self._record(row, started, outcome, decision_verdict, delay, reason)

    async def _send(self, dest: WebhookDestination, msg_id: str, payload: dict[str, Any]) -> Outcome:
        body = orjson.dumps(payload)
        headers = signed_headers(msg_id, int(time.time()), body, [s.get_secret_value() for s in dest.secrets])
        t0 = time.perf_counter()
        try:
            response = await self.client.post(dest.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            duration = time.perf_counter() - t0
            ATTEMPT_SECONDS.labels(dest.name).observe(duration)
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500], None, None, duration)
        duration = time.perf_counter() - t0
        ATTEMPT_SECONDS.labels(dest.name).observe(duration)
        return Outcome(
            response.status_code, None, response.text[:500],
            parse_retry_after(response.headers.get("retry-after")), duration,
        )

    async def _record(self, row: Any, started: datetime, outcome: Outcome, verdict: Verdict, delay: float, reason: str) -> None:
        ATTEMPTS.labels(row.destination, verdict.value).inc()
        values: dict[str, Any] = {"last_status_code": outcome.status, "last_error": outcome.error or (None if verdict is Verdict.SUCCEEDED else reason)}
        if verdict is Verdict.SUCCEEDED:
            values |= {"status": "succeeded", "delivered_at": func.now()}
            QUALIFIED_TO_DELIVERED.labels(row.destination).observe(max((datetime.now(UTC) - row.qualified_at).total_seconds(), 0))
        elif verdict is Verdict.RETRY:
            values |= {"next_attempt_at": func.now() + text(f"interval '{float(delay)} seconds'")}
        elif verdict is Verdict.DISABLE:
            values |= {"status": "disabled"}
        else:
            values |= {"status": "failed"}
        log_fn = log.info if verdict is Verdict.SUCCEEDED else log.warning
        log_fn("delivery attempt", delivery_id=row.id, destination=row.destination, attempt=row.attempts,
               status_code=outcome.status, verdict=verdict.value, reason=reason, duration_ms=round(outcome.duration * 1000, 1))
        async with self.engine.begin() as conn:
            await conn.execute(
                delivery_attempts.insert().values(
                    delivery_id=row.id, attempt=row.attempts, started_at=started, duration_seconds=outcome.duration,
                    status_code=outcome.status, error=outcome.error, response_excerpt=outcome.excerpt, verdict=verdict.value,
                )
            )
            await conn.execute(
                update(deliveries).where(and_(deliveries.c.id == row.id, deliveries.c.status == "pending")).values(**values)
            )
