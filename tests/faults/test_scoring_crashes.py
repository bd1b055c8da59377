"""Scoring under kill -9, replay and rebalance: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from sqlalchemy import delete

from leadflow_runtime.db import make_engine
from leadflow_scoring.adapters.tables import consumer_offsets
from tests.faults.harness import Run, make_touchpoints
from tests.support.kafka import read_all

pytestmark = pytest.mark.faults


async def test_kill_scoring_three_times_then_replay_from_the_beginning(fresh_env):
    run = Run(fresh_env)
    run.start_ingest()
    scoring = run.start_scoring()
    bodies = make_touchpoints(10_000, 800, seed=1)
    rng = random.Random(7)
    kills = 0
    try:
        sender = asyncio.create_task(run.send(bodies, batch=100, pause=0.06))
        while kills < 3 or not sender.done():
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            if kills < 3:
                scoring.kill()
                kills += 1
                scoring = run.start_scoring(name=f"fault-scoring-{kills}", wait_ready=False)
            if sender.done():
                break
        await sender
        await run.wait_applied()
        first = await run.check()
        print(f"kill -9 run: {first} kills={kills}")
        assert kills == 3

        # Replay: forget every stored offset and reset the Kafka group too; nothing may change.
        events_before = len(await read_all(fresh_env.infra.kafka_bootstrap, fresh_env.stages_topic, timeout=10))
        for p in run.scorers:
            p.stop()
        engine = make_engine(fresh_env.database_url)
        async with engine.begin() as conn:
            await conn.execute(delete(consumer_offsets))
        await engine.dispose()
        scoring = run.start_scoring(name="fault-scoring-replay")
        await asyncio.sleep(8)  # 10,000 records re-read and dropped as duplicates
        await run.wait_applied()
        second = await run.check()
        events_after = len(await read_all(fresh_env.infra.kafka_bootstrap, fresh_env.stages_topic, timeout=10))
        print(f"replay: {second} stage records before={events_before} after={events_after}")
        assert events_after == events_before, "the replay emitted stage events again"
        assert second["leads"] == first["leads"]
    finally:
        run.stop_all()


async def test_rebalance_with_three_scorers_joining_and_leaving(fresh_env):
    run = Run(fresh_env)
    run.start_ingest()
    a = run.start_scoring("fault-scoring-a")
    run.start_scoring("fault-scoring-b")
    bodies = make_touchpoints(6_000, 500, seed=2)
    try:
        sender = asyncio.create_task(run.send(bodies, batch=100, pause=0.05))
        await asyncio.sleep(2.0)
        run.start_scoring("fault-scoring-c", wait_ready=False)  # joins: partitions move
        await asyncio.sleep(2.0)
        a.stop()  # leaves: partitions move again
        await sender
        await run.wait_applied()
        figures = await run.check()
        print(f"rebalance run: {figures}")
    finally:
        run.stop_all()


async def test_postgres_down_for_30_seconds(fresh_env, stack_control):
    run = Run(fresh_env)
    ingest = run.start_ingest()
    scoring = run.start_scoring()
    bodies = make_touchpoints(4_000, 300, seed=3)
    try:
        sender = asyncio.create_task(run.send(bodies, batch=100, pause=0.1))
        await asyncio.sleep(1.5)
        await asyncio.to_thread(stack_control.postgres_stop)
        try:
            await asyncio.sleep(3)
            async with httpx.AsyncClient(timeout=5) as client:
                ready = await client.get(f"{scoring.url}/health/ready")
                live = await client.get(f"{scoring.url}/health/live")
            assert ready.status_code == 503 and ready.json()["checks"]["postgresql"]["status"] == "fail"
            assert live.status_code == 200
            await asyncio.sleep(27)
        finally:
            await asyncio.to_thread(stack_control.postgres_start)
        await sender  # ingest does not need PostgreSQL: it kept accepting
        await run.wait_applied(timeout=120)
        figures = await run.check()
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(f"{scoring.url}/health/ready")).status_code == 200
        assert scoring.proc.poll() is None, "scoring had to be restarted"
        print(f"postgres outage run: {figures}")
    finally:
        run.stop_all()
        assert ingest  # keep the reference for the log


async def test_kafka_restart_mid_run(fresh_env, stack_control):
    run = Run(fresh_env)
    ingest = run.start_ingest()
    scoring = run.start_scoring()
    bodies = make_touchpoints(4_000, 300, seed=4)
    try:
        sender = asyncio.create_task(run.send(bodies, batch=100, pause=0.1, deadline_s=180))
        await asyncio.sleep(1.5)
        await asyncio.to_thread(stack_control.kafka_stop)
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                r = await client.post(f"{ingest.url}/v1/touchpoints", json={"type": "page_viewed", "anonymous_id": "while-down"})
                assert r.status_code == 503 and r.headers["retry-after"]
                run.unconfirmed.add("anon:while-down")
                await asyncio.sleep(3)
                ready = await client.get(f"{ingest.url}/health/ready")
                assert ready.status_code == 503
        finally:
            await asyncio.to_thread(stack_control.kafka_start)
        await sender
        await run.wait_applied(timeout=120)
        figures = await run.check()
        assert run.rejected > 0, "ingest never answered 503 while Kafka was down"
        for proc in (ingest, scoring):
            assert proc.proc.poll() is None, f"{proc.name} had to be restarted"
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(f"{ingest.url}/health/ready")).status_code == 200
        print(f"kafka restart run: {figures}")
    finally:
        run.stop_all()
