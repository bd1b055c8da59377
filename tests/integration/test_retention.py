"""Retention: leads that never qualified are deleted after N days without activity, with a tombstone."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadflow_events import decode_event
from leadflow_runtime.db import make_engine
from leadflow_scoring.adapters.tables import erasures, leads
from leadflow_scoring.domain.privacy import key_hash
from leadflow_scoring.privacy import RetentionJob
from leadflow_runtime.health import Heartbeat
from tests.integration.test_scoring_worker import scoring_running
from tests.support.events import record, touchpoint
from tests.support.kafka import produce, read_all

pytestmark = pytest.mark.integration
OLD = datetime.now(UTC) - timedelta(days=400)


async def test_inactive_unqualified_leads_are_deleted_and_qualified_ones_kept(test_env):
    bootstrap = test_env.infra.kafka_bootstrap
    await produce(bootstrap, test_env.touchpoints_topic, [
        record(touchpoint("page_viewed", "stale@old.example", event_id="r1", at=OLD)),
        record(touchpoint("demo_requested", "buyer@old.example", event_id="r2", at=OLD,
                          profile={"job_title": "CEO", "company_size": 90})),
        record(touchpoint("page_viewed", "fresh@old.example", event_id="r3", at=datetime.now(UTC) - timedelta(days=3))),
    ])
    engine = make_engine(test_env.database_url)
    try:
        async with scoring_running(test_env) as app:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                async with engine.connect() as conn:
                    if await conn.scalar(select(func.count()).select_from(leads)) == 3:
                        break
                await asyncio.sleep(0.2)
            job = RetentionJob(engine=engine, stage_topic=test_env.stages_topic, days=365, interval=3600,
                               heartbeat=Heartbeat("t"), after_commit=app.state.container.relay.wake)
            erased = await job.run_once(datetime.now(UTC))
            again = await job.run_once(datetime.now(UTC))
            stages = await read_all(bootstrap, test_env.stages_topic, expect=1, timeout=10)
        async with engine.connect() as conn:
            left = set((await conn.execute(select(leads.c.lead_key))).scalars())
            tombstones = set((await conn.execute(select(erasures.c.key_hash).where(erasures.c.reason == "retention"))).scalars())
    finally:
        await engine.dispose()
    assert erased == 1 and again == 0
    assert left == {"buyer@old.example", "fresh@old.example"}  # qualified, or active: kept
    assert tombstones == {key_hash("stale@old.example")}
    erased_events = [e for e in (decode_event(r.value, r.headers) for r in stages) if e.type == "leadflow.lead.erased.v1"]
    assert [e.data.reason for e in erased_events] == ["retention"]
