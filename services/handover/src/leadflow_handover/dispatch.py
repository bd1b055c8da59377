"""Sends due deliveries: claim with a lease, send through the destination's sender, record the attempt, schedule the next.

A delivery is recorded before it is sent; a crash between sending and recording lets the
lease expire and the same ``webhook-id`` is sent again - receivers dedupe on it. A 410
disables the whole destination: its other pending deliveries are parked as ``disabled``
until it is enabled and they are replayed.

Each attempt is a client span, the child of the stage event's trace context when the
delivery row carries one (column ``traceparent``), and sends ``traceparent`` to the receiver.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import and_, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_runtime import tracing
from leadflow_runtime.errors import is_transient
from leadflow_runtime.health import Heartbeat
from leadflow_runtime.logs import get_logger

from leadflow_handover.adapters import destination_store
from leadflow_handover.adapters.destination_store import StoredDestination
from leadflow_handover.adapters.tables import deliveries, delivery_attempts, destinations
from leadflow_handover.domain.retry import Decision, Verdict, decide
from leadflow_handover.senders import Attempt, Outcome, sender_for

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
# Counted from PostgreSQL, so every instance reports the same value: aggregate with max(), not sum().
PENDING = Gauge("leadflow_handover_deliveries_pending", "Deliveries waiting to be sent or retried.", ["destination"])
FAILED = Gauge(
    "leadflow_handover_deliveries_failed", "Deliveries that gave up or were parked by a disabled destination: replay them.",
    ["destination"],
)
DISABLED = Gauge("leadflow_handover_destination_disabled", "1 while a destination is disabled (it answered 410 Gone).",
                 ["destination"])


@dataclass(frozen=True, slots=True)
class HandedOver:
    """A delivery the intake recorded already claimed (attempt 1, under lease), to send without a claim round trip.

    Same attributes as a claimed row; if this process dies before sending it, the lease runs out and
    any instance claims it as usual.
    """

    id: str
    lead_id: str
    destination: str
    payload: dict[str, Any]
    qualified_at: datetime
    traceparent: str | None
    seq: int
    attempts: int = 1
    retry_base: int = 0
    progress: dict[str, Any] = field(default_factory=dict)
    delivered_at: datetime | None = None


class Dispatcher:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        schedule: tuple[float, ...],
        timeout: float,
        lease_seconds: float,
        concurrency: int,
        heartbeat: Heartbeat,
        transport: httpx.AsyncBaseTransport | None = None,
        poll_interval: float = 1.0,
        gauge_seconds: float = 15.0,
    ) -> None:
        self.engine = engine
        self.schedule = schedule
        self.timeout = timeout
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.heartbeat = heartbeat
        self.poll_interval = poll_interval
        self.gauge_seconds = gauge_seconds
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), transport=transport, follow_redirects=False,
            headers={"user-agent": "Leadflow-Webhooks/1.0"},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._wake = asyncio.Event()
        self._handed: list[tuple[HandedOver, StoredDestination]] = []
        self._stopping = False
        self._gauges_at = 0.0
        self._gauged: set[str] = set()

    def wake(self) -> None:
        self._wake.set()

    def submit(self, rows: list[HandedOver], targets: dict[str, StoredDestination]) -> None:
        """Deliveries just committed by the intake, claimed there: sent in the next pass, before any claim."""
        self._handed.extend((row, targets[row.destination]) for row in rows)
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
            # Cleared before the pass, not after: a delivery committed while a pass runs must wake the next one.
            self._wake.clear()
            try:
                sent = await self.dispatch_due()
                await self._maybe_refresh_gauges()
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
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass

    async def dispatch_due(self) -> int:
        if self._handed:
            handed, self._handed = self._handed, []
            await self._send_all([row for row, _ in handed], {row.destination: target for row, target in handed})
            return len(handed)
        claimed = await self._claim(self.concurrency * 2)
        if not claimed:
            return 0
        async with self.engine.connect() as conn:
            targets = await destination_store.load(conn, sorted({r.destination for r in claimed}))
        await self._send_all(claimed, targets)
        return len(claimed)

    async def _send_all(self, rows: list[Any], targets: dict[str, StoredDestination]) -> None:
        # One lead's deliveries to one destination go in stage order (MQL before SQL); the rest in parallel.
        lanes: dict[tuple[str, str], list[Any]] = {}
        for row in sorted(rows, key=lambda r: r.seq):
            lanes.setdefault((str(row.lead_id), row.destination), []).append(row)
        sem = asyncio.Semaphore(self.concurrency)

        async def lane(rows: list[Any]) -> None:
            for row in rows:
                async with sem:
                    await self._deliver(row, targets.get(row.destination))

        await asyncio.gather(*(lane(rows) for rows in lanes.values()))

    async def _claim(self, limit: int) -> list[Any]:
        # a missing destination is claimed too, and fails with a reason; a disabled one is not
        due = (
            select(deliveries.c.id)
            .select_from(deliveries.outerjoin(destinations, destinations.c.name == deliveries.c.destination))
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= func.now(),
                   destinations.c.disabled_at.is_(None))
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(of=deliveries, skip_locked=True)
        )
        stmt = (
            update(deliveries)
            .where(deliveries.c.id.in_(due.scalar_subquery()))
            .values(
                attempts=deliveries.c.attempts + 1,
                next_attempt_at=func.now() + text(f"interval '{float(self.lease_seconds)} seconds'"),
            )
            .returning(deliveries.c.id, deliveries.c.lead_id, deliveries.c.destination, deliveries.c.payload, deliveries.c.attempts,
                       deliveries.c.qualified_at, deliveries.c.retry_base, deliveries.c.progress, deliveries.c.delivered_at,
                       deliveries.c.traceparent, deliveries.c.seq)
        )
        async with self.engine.begin() as conn:
            return list((await conn.execute(stmt)).all())

    async def _deliver(self, row: Any, target: StoredDestination | None) -> None:
        started = datetime.now(UTC)
        if target is None:
            reason = f"destination {row.destination!r} is no longer configured"
            outcome, decision = Outcome(None, reason, None, None, 0.0), Decision(Verdict.FAILED, reason=reason)
        else:
            outcome = await self._send(target, row)
            decision = decide(row.attempts - row.retry_base, outcome.status, self.schedule, outcome.retry_after,
                              throttled=outcome.throttled, permanent=outcome.permanent)
            ATTEMPT_SECONDS.labels(row.destination).observe(outcome.duration)
        await self._record(row, started, outcome, decision)

    async def _send(self, target: StoredDestination, row: Any) -> Outcome:
        sender = sender_for(target.config, self.client)
        attrs = {"leadflow.destination": row.destination, "leadflow.destination.kind": target.config.kind,
                 "leadflow.delivery.id": row.id, "leadflow.delivery.attempt": row.attempts}
        with tracing.client_span(f"POST {row.destination}", row.traceparent, **attrs) as span:
            attempt = Attempt(delivery_id=row.id, payload=row.payload, progress=dict(row.progress or {}),
                              traceparent=tracing.current_traceparent())
            t0 = time.perf_counter()
            try:
                outcome = await asyncio.wait_for(sender.send(attempt), self.timeout)
            except (asyncio.TimeoutError, TimeoutError):
                outcome = Outcome(None, f"no complete answer within {self.timeout:g} s", None, None, time.perf_counter() - t0)
            except Exception as exc:  # a sender bug must cost a retry, not the dispatcher loop
                log.exception("sender failed unexpectedly", delivery_id=row.id, destination=row.destination)
                outcome = Outcome(None, f"internal error: {type(exc).__name__}: {exc}"[:500], None, None, time.perf_counter() - t0)
            tracing.set_http_status(span, outcome.status)
        return outcome

    async def _record(self, row: Any, started: datetime, outcome: Outcome, decision: Decision) -> None:
        verdict, reason = decision.verdict, decision.reason
        ATTEMPTS.labels(row.destination, verdict.value).inc()
        values: dict[str, Any] = {"last_status_code": outcome.status,
                                  "last_error": None if verdict is Verdict.SUCCEEDED else (outcome.error or reason)}
        if outcome.progress is not None:
            values["progress"] = outcome.progress
        if verdict is Verdict.SUCCEEDED:
            values |= {"status": "succeeded", "delivered_at": func.coalesce(deliveries.c.delivered_at, func.now())}
            if row.delivered_at is None:  # the first success; a replay's success is not a new handover
                QUALIFIED_TO_DELIVERED.labels(row.destination).observe(max((datetime.now(UTC) - row.qualified_at).total_seconds(), 0))
        elif verdict is Verdict.RETRY:
            values |= {"next_attempt_at": func.now() + text(f"interval '{float(decision.delay)} seconds'")}
        elif verdict is Verdict.DISABLE:
            values |= {"status": "disabled"}
        else:
            values |= {"status": "failed"}
        log_fn = log.info if verdict is Verdict.SUCCEEDED else log.warning
        log_fn("delivery attempt", delivery_id=row.id, destination=row.destination, attempt=row.attempts,
               status_code=outcome.status, verdict=verdict.value, reason=reason, error=outcome.error,
               duration_ms=round(outcome.duration * 1000, 1), **tracing.log_fields(row.traceparent))
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
            if verdict is Verdict.DISABLE:
                why = (f"the receiver answered 410 Gone to delivery {row.id} at {started.isoformat(timespec='seconds')}; "
                       f"enable it with POST /v1/destinations/{row.destination}/enable")
                if await destination_store.disable(conn, row.destination, why):
                    log.warning("destination disabled", destination=row.destination, reason=why)

    async def _maybe_refresh_gauges(self) -> None:
        now = time.monotonic()
        if now - self._gauges_at < self.gauge_seconds:
            return
        self._gauges_at = now
        await self.refresh_gauges()

    async def refresh_gauges(self) -> None:
        async with self.engine.connect() as conn:
            counts = await conn.execute(
                select(deliveries.c.destination, deliveries.c.status, func.count())
                .where(deliveries.c.status.in_(["pending", "failed", "disabled"]))
                .group_by(deliveries.c.destination, deliveries.c.status)
            )
            known = {r.name: r.disabled_at for r in await conn.execute(select(destinations.c.name, destinations.c.disabled_at))}
        pending: dict[str, int] = dict.fromkeys(known, 0)
        failed: dict[str, int] = dict.fromkeys(known, 0)
        for name, status, n in counts:
            bucket = pending if status == "pending" else failed
            bucket[name] = bucket.get(name, 0) + n
            failed.setdefault(name, 0)
            pending.setdefault(name, 0)
        for name in self._gauged - set(pending):
            for gauge in (PENDING, FAILED, DISABLED):
                try:
                    gauge.remove(name)
                except KeyError:
                    pass
        for name in pending:
            PENDING.labels(name).set(pending[name])
            FAILED.labels(name).set(failed[name])
            DISABLED.labels(name).set(1 if known.get(name) is not None else 0)
        self._gauged = set(pending)
