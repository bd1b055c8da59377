"""Scale-out: three scoring and two handover instances share 6-partition topics.

Each instance of a consumer group gets partitions and does a share of the work (read from its
own /metrics), and nothing is lost or doubled: ``Run.check()`` compares the end state with an
independent recomputation; every sales-qualified lead is delivered exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from leadflow_runtime.db import make_engine
from leadflow_scoring.adapters.tables import stage_history
from tests.faults.harness import T0, Run, make_touchpoints
from tests.support.processes import ServiceProcess
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.faults
SECRET = "whsec_" + base64.b64encode(b"scale-out-test-secret-0123456789").decode()
BUYER = {"job_title": "CFO", "company_size": 9000, "company": "Bigbank"}


def samples(proc: ServiceProcess, name: str) -> list:  # type: ignore[type-arg]
    text = httpx.get(f"{proc.url}/metrics", timeout=5).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def partitions_owned(proc: ServiceProcess, topic: str) -> set[int]:
    """The partitions this instance reports lag for: the ones assigned to it now (revoked ones are removed)."""
    return {int(s.labels["partition"]) for s in samples(proc, "leadflow_consumer_lag_records") if s.labels["topic"] == topic}


def counter(proc: ServiceProcess, name: str, **labels: str) -> float:
    return sum(s.value for s in samples(proc, name) if all(s.labels.get(k) == v for k, v in labels.items()))


async def wait_spread(procs: list[ServiceProcess], topic: str, partitions: int = 6, timeout: float = 40) -> dict[str, set[int]]:
    """Until the group has settled: every instance owns partitions and together they own each exactly once."""
    deadline = time.monotonic() + timeout
    owned: dict[str, set[int]] = {}
    while time.monotonic() < deadline:
        owned = {p.name: await asyncio.to_thread(partitions_owned, p, topic) for p in procs}
        counts = [len(o) for o in owned.values()]
        if all(counts) and sum(counts) == partitions and set().union(*owned.values()) == set(range(partitions)):
            return owned
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the consumer group on {topic} did not spread over every instance: {owned}")


def sales_ready_bodies(count: int, offset: int) -> list[dict]:
    """Demo requests from buyers with fit: each lead goes straight to SQL, so handover has work."""
    return [{
        "type": "demo_requested", "email": f"buyer{i}@bigbank{i % 40}.example", "profile": BUYER,
        "occurred_at": (T0 + timedelta(seconds=offset + i)).isoformat(), "event_id": f"scale-demo-{i}",
    } for i in range(count)]


async def test_three_scorers_and_two_handovers_share_the_partitions(fresh_env):
    started = time.monotonic()
    with WebhookReceiver() as receiver:
        run = Run(fresh_env, extra_env={
            "LEADFLOW_HANDOVER_DESTINATIONS": json.dumps([{"name": "crm", "url": receiver.url, "secrets": [SECRET]}]),
            "LEADFLOW_HANDOVER_RETRY_SCHEDULE": "[0, 1, 1]",
        })
        handovers: list[ServiceProcess] = []
        try:
            # six processes start side by side; then wait for each to be ready
            run.ingest = ServiceProcess("ingest", run.service_env, name="scale-ingest").start(wait_ready=False)
            scorers = [run.start_scoring(f"scale-scoring-{x}", wait_ready=False) for x in "abc"]
            handovers = [ServiceProcess("handover", run.service_env, name=f"scale-handover-{x}").start(wait_ready=False)
                         for x in "ab"]
            for proc in [run.ingest, *scorers, *handovers]:
                await asyncio.to_thread(proc.wait_ready)
            scoring_share = await wait_spread(scorers, fresh_env.touchpoints_topic)
            handover_share = await wait_spread(handovers, fresh_env.stages_topic)

            bodies = make_touchpoints(2_000, 300, seed=11) + sales_ready_bodies(60, offset=2_000)
            await run.send(bodies, batch=100, pause=0.1)
            await run.wait_applied(timeout=40)
            figures = await run.check()  # effectively once across the three scorers

            engine = make_engine(fresh_env.database_url)
            try:
                async with engine.connect() as conn:
                    sql_events = set((await conn.execute(
                        select(stage_history.c.event_id).where(stage_history.c.to_stage == "sql"))).scalars())
            finally:
                await engine.dispose()
            assert len(sql_events) >= 60
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len({r.headers["webhook-id"] for r in receiver.snapshot()}) < len(sql_events):
                await asyncio.sleep(0.3)
            await asyncio.sleep(1.0)  # anything extra would arrive now

            applied = {p.name: counter(p, "leadflow_consumer_records_total", outcome="applied") for p in scorers}
            delivered = {p.name: counter(p, "leadflow_delivery_attempts_total", verdict="succeeded") for p in handovers}
            consumed = {p.name: counter(p, "leadflow_consumer_records_total", outcome="applied") for p in handovers}
        finally:
            for proc in handovers:
                proc.stop()
            run.stop_all()
        received = receiver.snapshot()

    print(f"scale-out: {figures} partitions scoring={scoring_share} handover={handover_share} "
          f"applied={applied} handover consumed={consumed} delivered={delivered} "
          f"sql={len(sql_events)} webhooks={len(received)} in {time.monotonic() - started:.1f}s")
    assert all(n > 0 for n in applied.values()), f"a scoring instance applied nothing: {applied}"
    assert sum(applied.values()) >= len({e for e, _ in run.acknowledged})  # re-reads after a rebalance are skipped, not applied
    assert all(n > 0 for n in consumed.values()), f"a handover instance consumed nothing: {consumed}"
    assert all(n > 0 for n in delivered.values()), f"a handover instance delivered nothing: {delivered}"
    assert sum(delivered.values()) == len(sql_events)
    stage_ids = [r.json["stage_event_id"] for r in received]
    assert len(received) == len(set(stage_ids)), "a stage event was delivered twice"
    assert set(stage_ids) == sql_events, "some sales-qualified lead was not handed over"
    assert all(r.answered == 200 for r in received)
    assert time.monotonic() - started < 90
