"""``scoring-drain``: a topic full of touchpoints, then ONE scoring process; how fast does it apply them?

Progress is read from ``scoring.consumer_offsets`` (committed in the same transaction as the
effects, and cheap to read); at the end the ``touchpoints`` table must hold every record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from bench import profiling
from bench.core import Context, Measure, Metric, Outcome, Target
from bench.infra import Service, TestEnv, isolated, libpq, say
from bench.records import RecordFactory, check_contract, produce_all


@dataclass
class Drain:
    records: int
    seconds: float  # from the first applied record to the last
    startup_s: float  # process start to the first applied record
    applied_rows: int

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def preload(env: TestEnv, count: int, leads: int, *, seed: int, lead_numbers: list[int] | None = None) -> dict[str, Any]:
    factory = RecordFactory()
    first = next(factory.stream(1, leads, seed=seed, lead_numbers=lead_numbers))
    check_contract(first[1])
    t0 = time.perf_counter()
    sent = asyncio.run(produce_all(env.infra.kafka_bootstrap, env.touchpoints_topic,
                                   factory.stream(count, leads, seed=seed, lead_numbers=lead_numbers)))
    took = time.perf_counter() - t0
    assert sent == count
    say(f"  pre-loaded {count:,} touchpoints over {leads:,} leads in {took:.1f}s ({count / took:,.0f}/s)")
    return {"records": count, "leads": leads, "seconds": round(took, 1)}


class Progress:
    """Reads how many records a consumer group has applied; rides out a PostgreSQL restart (bounded by the
    caller's deadline) and counts it, since a restart during a measurement makes the figure worse."""

    def __init__(self, url: str, group: str) -> None:
        self.url = url
        self.group = group
        self.conn: asyncpg.Connection | None = None
        self.interruptions = 0

    async def applied(self) -> int:
        while True:
            try:
                if self.conn is None or self.conn.is_closed():
                    self.conn = await asyncpg.connect(self.url)
                return await self.conn.fetchval(
                    "SELECT coalesce(sum(next_offset), 0)::bigint FROM scoring.consumer_offsets WHERE group_id = $1",
                    self.group)
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError) as exc:
                self.interruptions += 1
                say(f"  PostgreSQL went away ({type(exc).__name__}); reconnecting")
                self.conn = None
                await asyncio.sleep(1)

    async def fetchval(self, sql: str) -> int:
        await self.applied()  # (re)connects
        assert self.conn is not None
        return await self.conn.fetchval(sql)

    async def close(self) -> None:
        if self.conn is not None and not self.conn.is_closed():
            await self.conn.close()


def drain(ctx: Context, out: Outcome, env: TestEnv, count: int, *, label: str, extra_env: dict[str, str] | None = None,
          profile_as: str | None = None, timeout: float = 900,
          then: Callable[[Service], Awaitable[None]] | None = None) -> Drain:
    """Start one scoring process and wait (bounded) until it has applied ``count`` records; ``then`` runs
    while the process is still up."""
    scoring = Service("scoring", {**env.env, **(extra_env or {})}, name=f"scoring-{label}")
    group = env.env["LEADFLOW_SCORING_GROUP_ID"]

    async def watch() -> Drain:
        progress = Progress(libpq(env.database_url), group)
        try:
            t_start = time.perf_counter()
            scoring.start(wait_ready=False)
            deadline = t_start + timeout
            applied = 0
            while applied == 0:  # the first batch marks the start of the drain proper
                if time.perf_counter() > deadline or scoring.proc.poll() is not None:
                    raise RuntimeError(f"scoring applied nothing; log:\n{scoring.tail()}")
                await asyncio.sleep(0.05)
                applied = await progress.applied()
            t_first, first = time.perf_counter(), applied
            recorder = None
            if profile_as and ctx.profile:
                recorder = profiling.record(scoring.pid, profile_as, min(20, max(count / 20000 - 2, 2)))
            last_report = t_first
            with Measure(out, label, {"scoring": [scoring.pid]}):
                while applied < count:
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"scoring applied {applied:,} of {count:,} in {timeout:.0f}s")
                    if scoring.proc.poll() is not None:
                        raise RuntimeError(f"scoring exited; log:\n{scoring.tail()}")
                    await asyncio.sleep(0.25)
                    applied = await progress.applied()
                    now = time.perf_counter()
                    if now - last_report > 10:
                        last_report = now
                        say(f"  {label}: {applied:,} of {count:,} applied ({(applied - first) / (now - t_first):,.0f}/s)")
            t_end = time.perf_counter()
            if recorder:
                summary = recorder.finish()
                if summary:
                    out.details.setdefault("profiles", {})[profile_as] = summary
            rows = await progress.fetchval("SELECT count(*) FROM scoring.touchpoints")
            if then is not None:
                await then(scoring)
            if progress.interruptions:
                out.notes.append(f"PostgreSQL was restarted by someone else during '{label}' "
                                 f"({progress.interruptions} failed reads); the rate includes the outage.")
            return Drain(count - first, t_end - t_first, t_first - t_start, rows)
        finally:
            await progress.close()

    try:
        result = asyncio.run(watch())
    finally:
        scoring.stop_or_kill()
    if result.applied_rows != count:
        raise AssertionError(f"{count:,} records drained but the touchpoints table holds {result.applied_rows:,}")
    say(f"  {label}: {result.records:,} applied in {result.seconds:.1f}s = {result.rate:,.0f} touchpoints/s")
    return result


def scoring_drain(ctx: Context, out: Outcome) -> None:
    n, leads = ctx.drain_size or ctx.size((1_000_000, 100_000), (3_000, 300))
    nb, leads_b = ctx.size((5_000, 500), (300, 30))
    with isolated(ctx.infra, "scoring-drain") as env:
        out.details["preload"] = preload(env, n, leads, seed=1)
        main = drain(ctx, out, env, n, label="batched (production settings)", profile_as="scoring-drain")
    with isolated(ctx.infra, "scoring-drain-base") as env:
        out.details["baseline_preload"] = preload(env, nb, leads_b, seed=2)
        base = drain(ctx, out, env, nb, label="baseline: one touchpoint per transaction",
                     extra_env={"LEADFLOW_SCORING_MAX_BATCH": "1"})
    out.details.update({
        "batched": {"records": n, "leads": leads, "drain_s": round(main.seconds, 1), "startup_s": round(main.startup_s, 1)},
        "baseline": {"records": nb, "leads": leads_b, "drain_s": round(base.seconds, 1), "max_batch": 1},
    })
    out.add(
        Metric("drain rate", main.rate, "touchpoints/s", Target(">=", 20_000), baseline=base.rate,
               note="baseline: LEADFLOW_SCORING_MAX_BATCH=1"),
        Metric("batched vs one per transaction", main.rate / base.rate if base.rate else None, "x", Target(">=", 10)),
    )
    out.notes.append(
        f"{n:,} touchpoints over {leads:,} leads pre-loaded on a 6-partition topic (records as ingest makes them), then "
        f"one scoring process with production settings (batches of up to 1,000) applied them in "
        f"{main.seconds:.1f} s after a {main.startup_s:.1f} s start. Baseline: {nb:,} touchpoints over "
        f"{leads_b:,} leads with LEADFLOW_SCORING_MAX_BATCH=1 ({base.seconds:.1f} s). Rates count from the first "
        "applied batch to the last; every record was found in the touchpoints table afterwards."
    )


__all__ = ["Drain", "drain", "preload", "scoring_drain"]
