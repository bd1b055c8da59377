"""Poison records between valid ones, into a running scoring process: dead-lettered within seconds."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from leadflow_events import dead_letter_topic
from leadflow_runtime.db import make_engine
from leadflow_scoring.adapters.tables import touchpoints
from tests.support.events import record, touchpoint
from tests.support.kafka import produce, read_all
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.faults

POISON = [
    (b"bad-json", b"{\"type\": \"leadflow.touchpoint.recorded.v1\", ", [("content-type", b"application/cloudevents+json")]),
    (b"wrong-schema", b'{"specversion": "1.0", "type": "leadflow.touchpoint.recorded.v1", "id": "p2", "source": "s", '
                      b'"time": "2026-11-27T10:00:00Z", "data": {"touchpoint_type": "form_submitted"}}', []),
    (b"unknown-type", b'{"specversion": "1.0", "type": "leadflow.fax.received.v1", "id": "p3", "source": "s", '
                      b'"time": "2026-11-27T10:00:00Z", "data": {}}', []),
    (b"empty", b"", []),
]


async def test_poison_records_are_dead_lettered_and_the_partition_keeps_moving(fresh_env):
    scoring = ServiceProcess("scoring", fresh_env.env, name="poison-scoring").start()
    engine = make_engine(fresh_env.database_url)
    try:
        good = [touchpoint("page_viewed", f"p{i}@poison.example", i, event_id=f"good-{i}") for i in range(20)]
        records = []
        for i, event in enumerate(good):
            records.append(record(event))
            if i % 5 == 0:
                records.append(POISON[i // 5])
        started = time.monotonic()
        await produce(fresh_env.infra.kafka_bootstrap, fresh_env.touchpoints_topic, records)
        dead = await read_all(fresh_env.infra.kafka_bootstrap, dead_letter_topic(fresh_env.touchpoints_topic), expect=4, timeout=15)
        took = time.monotonic() - started
        deadline = time.monotonic() + 15
        applied = 0
        while time.monotonic() < deadline and applied < 20:
            async with engine.connect() as conn:
                applied = await conn.scalar(select(func.count()).select_from(touchpoints))
            await asyncio.sleep(0.2)
    finally:
        scoring.stop()
        await engine.dispose()
    assert sorted(r.key for r in dead) == sorted(p[0] for p in POISON)
    assert took < 10, f"dead letters took {took:.1f} s"
    for r in dead:
        headers = dict(r.headers)
        assert headers["leadflow-dlq-error"] and headers["leadflow-dlq-error-type"]
        assert headers["leadflow-dlq-topic"] == fresh_env.touchpoints_topic.encode()
    assert applied == 20  # every valid record around them was processed
    print(f"poison: 4 dead-lettered in {took:.2f} s, 20 valid applied")
