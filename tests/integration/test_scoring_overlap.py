"""The scoring worker keeps PostgreSQL busy while it computes: statements in flight, and what happens when one fails."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from leadflow_runtime.bulk import in_flight
from leadflow_runtime.db import make_engine
from leadflow_scoring.adapters.tables import leads, score_ledger, stage_history, touchpoints
from tests.integration.test_scoring_worker import scoring_running, wait_until
from tests.support.events import record, touchpoint
from tests.support.kafka import produce

pytestmark = pytest.mark.integration


def _libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def test_the_body_runs_while_the_statement_is_in_postgresql(test_env):
    conn = await asyncpg.connect(_libpq(test_env.database_url))
    sql = "SELECT $1::int FROM pg_sleep(0.3)"
    try:
        await conn.fetchval(sql, 1)  # prepared once per connection, as the worker's fixed statements are
        t0 = time.perf_counter()
        async with in_flight(conn.fetchval(sql, 7)) as pending:
            assert not pending.done()  # sent, not answered: the body runs meanwhile
            time.sleep(0.3)  # the process's own work, blocking the event loop as computing does
        assert pending.result() == 7
        assert time.perf_counter() - t0 < 0.55  # the two 0.3 s waits overlapped
    finally:
        await conn.close()


async def test_a_failing_body_still_waits_for_the_statement_and_a_failing_statement_raises(test_env):
    conn = await asyncpg.connect(_libpq(test_env.database_url))
    try:
        with pytest.raises(RuntimeError, match="body failed"):
            async with in_flight(conn.fetchval("SELECT 1 FROM pg_sleep(0.1)")) as pending:
                raise RuntimeError("body failed")
        assert pending.done()
        assert await conn.fetchval("SELECT 2") == 2  # the connection is free again
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with in_flight(conn.fetchval("SELECT 1 / 0")):
                pass
        assert await conn.fetchval("SELECT 3") == 3
    finally:
        await conn.close()


def _duplicates() -> float:
    return REGISTRY.get_sample_value("leadflow_touchpoints_duplicate_total") or 0.0


async def test_a_batch_with_a_touchpoint_stored_before_is_scored_again_without_it(test_env):
    """The batch is scored while its touchpoints are inserted; a redelivered one that the insert turns away
    must leave no trace: the lead, its ledger and its history are as if it had not come again."""
    bootstrap = test_env.infra.kafka_bootstrap
    email = "again@bigco.example"
    form = touchpoint("form_submitted", email, 0, event_id="again-1",
                      profile={"job_title": "VP Sales", "company_size": 400})
    engine = make_engine(test_env.database_url)

    async def count(table, **where) -> int:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(table)
            for column, value in where.items():
                query = query.where(table.c[column] == value)
            return await conn.scalar(query)

    try:
        async with scoring_running(test_env):
            await produce(bootstrap, test_env.touchpoints_topic, [record(form)])
            assert await wait_until(lambda: _is(count(touchpoints), 1)), "the first touchpoint was not applied"
            async with engine.connect() as conn:
                first = (await conn.execute(select(leads).where(leads.c.lead_key == email))).one()
            ledger_before = await count(score_ledger)
            duplicates_before = _duplicates()
            # the form again (a redelivery) and two new touchpoints, in one produce call: one batch
            again = [record(form), record(touchpoint("demo_requested", email, 5, event_id="again-2")),
                     record(touchpoint("page_viewed", email, 6, event_id="again-3", page_url="https://x.example/pricing"))]
            await produce(bootstrap, test_env.touchpoints_topic, again)
            assert await wait_until(lambda: _is(count(touchpoints), 3)), "the new touchpoints were not applied"
        async with engine.connect() as conn:
            lead = (await conn.execute(select(leads).where(leads.c.lead_key == email))).one()
            lines = (await conn.execute(select(score_ledger.c.touchpoint_id).where(score_ledger.c.lead_id == lead.lead_id))).scalars().all()
            stages = (await conn.execute(select(stage_history.c.to_stage).where(stage_history.c.lead_id == lead.lead_id)
                                         .order_by(stage_history.c.id))).scalars().all()
    finally:
        await engine.dispose()
    assert _duplicates() == duplicates_before + 1
    assert lead.touchpoint_count == 3 == first.touchpoint_count + 2
    assert lines.count("again-1") == 1  # the form's points once
    assert {"again-2", "again-3"} <= set(lines) and len(lines) > ledger_before
    assert len(stages) == len(set(stages))  # no stage entered twice
    assert stages[0] == "lead" and stages[-1] == "sql"


async def _is(awaitable, expected) -> bool:
    return await awaitable == expected


async def test_stage_events_written_by_a_batch_wake_the_outbox_relay_at_commit(test_env):
    """The relay does not wait for its next poll: a committed batch that wrote stage events wakes it."""
    from leadflow_events import decode_event
    from tests.support.kafka import read_all

    bootstrap = test_env.infra.kafka_bootstrap
    async with scoring_running(test_env) as app:
        relay = app.state.container.relay
        relay.poll_interval = 120.0  # left to its polling, the relay would not look again for two minutes
        await asyncio.sleep(1.5)  # past the wait it was in, into a two-minute one
        before = {decode_event(r.value, r.headers).id for r in await read_all(bootstrap, test_env.stages_topic, timeout=2)}
        emails = [f"woken{i}@bigco.example" for i in range(8)]
        await produce(bootstrap, test_env.touchpoints_topic,
                      [record(touchpoint("page_viewed", email, 0, page_url="https://x.example/")) for email in emails])
        t0 = time.perf_counter()
        events = await read_all(bootstrap, test_env.stages_topic, expect=len(before) + len(emails), timeout=20)
        waited = time.perf_counter() - t0
    woken = [r for r in events if decode_event(r.value, r.headers).id not in before]
    assert sorted(decode_event(r.value, r.headers).data.lead.email for r in woken) == sorted(emails)
    assert waited < 20
    # the relay hands Kafka whole batches; each key's records still land where a plain send() puts that key
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        probes = [await (await producer.send(test_env.stages_topic, value=b"probe", key=r.key)) for r in woken]
    finally:
        await producer.stop()
    assert [p.partition for p in probes] == [r.partition for r in woken]
    assert len({r.partition for r in woken}) > 1  # the keys spread over partitions: the comparison means something


async def test_many_rows_go_through_the_stage_and_a_few_as_arrays_to_the_same_effect(test_env):
    """``BulkInsert.load``: 100 rows or more are copied into the stage table, fewer travel as arrays."""
    from datetime import UTC, datetime

    from leadflow_runtime.bulk import STAGE_FROM_ROWS, driver_connection
    from leadflow_scoring.adapters.store import TOUCHPOINT_INSERT

    at = datetime(2026, 5, 1, tzinfo=UTC)
    records = [(f"bulk-{i}", "00000000-0000-0000-0000-00000000000b", "page_viewed", at, at, None,
                '{"company":"Firm"}', "{}", 0, i) for i in range(150)]
    engine = make_engine(test_env.database_url)
    try:
        async with engine.connect() as conn:
            db = await driver_connection(conn)
            outside = await (await TOUCHPOINT_INSERT.load(db, records[140:], fetch=True))  # no transaction: arrays
            with pytest.raises(RuntimeError, match="outside a transaction"):
                await TOUCHPOINT_INSERT.stage(db, records)
            async with conn.begin() as tx:
                await conn.execute(text("SELECT 1"))  # SQLAlchemy opens the transaction with its first statement
                staged = await (await TOUCHPOINT_INSERT.load(db, records[:120], fetch=True))
                arrays = await (await TOUCHPOINT_INSERT.load(db, records[100:], fetch=True))  # 20 seen, 30 new
                again = await (await TOUCHPOINT_INSERT.load(db, records, fetch=True))  # all seen
                stored = await db.fetch("SELECT event_id, profile FROM scoring.touchpoints WHERE event_id LIKE 'bulk-%'")
                left = await db.fetchval(f'SELECT count(*) FROM "{TOUCHPOINT_INSERT.stage_table}"')
                await tx.rollback()
            await db.execute("DELETE FROM scoring.touchpoints WHERE event_id LIKE 'bulk-%'")
    finally:
        await engine.dispose()
    assert 50 < STAGE_FROM_ROWS <= 120
    assert sorted(r["event_id"] for r in outside) == sorted(f"bulk-{i}" for i in range(140, 150))  # committed
    assert sorted(r["event_id"] for r in staged) == sorted(f"bulk-{i}" for i in range(120))
    assert sorted(r["event_id"] for r in arrays) == sorted(f"bulk-{i}" for i in range(120, 140))  # 140-149 stored
    assert again == []
    assert len(stored) == 150 and {r["profile"]["company"] for r in stored} == {"Firm"}
    assert left == 0  # the statement emptied the stage
