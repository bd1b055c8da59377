"""``ingest-single`` and ``ingest-batch``: the HTTP edge with API keys and the Kafka acknowledgement."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import load, profiling
from bench.core import Context, Measure, Metric, Outcome, Target
from bench.infra import BareApp, Service, TestEnv, isolated, running, say

API_KEY = "bench-key-0123456789abcdef"
API_ENV = {"LEADFLOW_INGEST_API_KEYS": json.dumps([API_KEY])}


def _topic_records(env: TestEnv) -> int:
    """Records on the touchpoint topic: every 202 must be one of them."""

    async def count() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=env.infra.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(env.touchpoints_topic) or set()
            if not parts:
                await consumer._client.force_metadata_update()  # noqa: SLF001
                parts = consumer.partitions_for_topic(env.touchpoints_topic) or set()
            ends = await consumer.end_offsets([TopicPartition(env.touchpoints_topic, p) for p in parts])
            return sum(ends.values())
        finally:
            await consumer.stop()

    return asyncio.run(count())


def _check_topic(out: Outcome, accepted: int, on_topic: int, in_flight: int) -> None:
    """Every 202 is on the topic; a few more records may be there, from requests in flight when the generator
    stopped counting (it does not wait for their answers)."""
    if not accepted <= on_topic <= accepted + in_flight:
        raise AssertionError(f"{accepted:,} touchpoints were answered 202 but the topic holds {on_topic:,} records")
    out.notes.append(f"All {accepted:,} touchpoints answered 202 are on the topic ({on_topic - accepted:,} more from "
                     "requests still in flight when the generator stopped).")


def _profile_during(ctx: Context, pid: int, name: str, delay: float, seconds: float) -> tuple[threading.Thread, list]:
    box: list = []

    def run() -> None:
        time.sleep(delay)
        rec = profiling.record(pid, name, seconds)
        if rec:
            box.append(rec)

    thread = threading.Thread(target=run, daemon=True)
    if ctx.profile:
        thread.start()
    return thread, box


def _closed_loop(ctx: Context, out: Outcome, label: str, proc: Service, url: str, *, connections: int, seconds: float,
                 body: bytes | None = None, profile_as: str | None = None) -> load.ClosedLoopResult:
    thread, box = _profile_during(ctx, proc.pid, profile_as or "", 2, max(seconds - 4, 1)) if profile_as else (None, [])
    with Measure(out, label, {proc.name: [proc.pid]}) as m:
        r = load.closed_loop(url, connections=connections, duration_s=seconds, api_key=API_KEY, body=body,
                             generator=ctx.generator)
        m.exclude(f"load generator ({r.generator.split()[0]})", r.generator_cores)
    if thread is not None and thread.is_alive():
        thread.join(30)
    if box:
        summary = box[0].finish()
        if summary:
            out.details.setdefault("profiles", {})[profile_as] = summary
    out.details[label] = r.as_dict()
    return r


def ingest_single(ctx: Context, out: Outcome) -> None:
    seconds = ctx.size(20, 2)
    connections = 32
    with isolated(ctx.infra, "ingest-single", database=False) as env:
        ingest = Service("ingest", {**env.env, **API_ENV})
        bare = BareApp(env.env)
        with running(ingest, bare):
            warm = ctx.size(3, 1)
            say(f"ingest-single: warming up both servers ({warm}s each)")
            warmups = [load.closed_loop(s.url + "/v1/touchpoints", connections=connections, duration_s=warm, api_key=API_KEY,
                                        generator=ctx.generator) for s in (bare, ingest)]
            say(f"ingest-single: baseline (bare FastAPI endpoint), {connections} connections, {seconds}s")
            b = _closed_loop(ctx, out, "baseline", bare, bare.url + "/v1/touchpoints", connections=connections, seconds=seconds)
            say(f"ingest-single: ingest with API key and Kafka acknowledgement, {connections} connections, {seconds}s")
            r = _closed_loop(ctx, out, "ingest", ingest, ingest.url + "/v1/touchpoints", connections=connections,
                             seconds=seconds, profile_as="ingest-single")
        on_topic = _topic_records(env)
    accepted = warmups[1].accepted + r.accepted
    out.details["records_on_topic"] = on_topic
    out.details["accepted_total"] = accepted
    _check_topic(out, accepted, on_topic, in_flight=2 * connections)
    out.add(
        Metric("throughput", r.accepted_per_s, "accepted/s", Target(">=", 4000), baseline=b.accepted_per_s,
               note="baseline: bare FastAPI endpoint, same uvicorn settings and load"),
        Metric("latency p50", r.p50_ms, "ms", baseline=b.p50_ms),
        Metric("latency p99", r.p99_ms, "ms", Target("<", 50), baseline=b.p99_ms),
        Metric("failed requests", float(r.failed), "", Target("<=", 0)),
    )
    out.notes.append(
        f"Closed loop, {connections} keep-alive connections, {seconds} s per server after a {warm} s warm-up; "
        f"generator {r.generator} used {r.generator_cores:.2f} cores. Latency is queueing included "
        f"(connections / throughput), so it falls with fewer connections and rises with more."
    )


def batch_body(size: int) -> bytes:
    return json.dumps({"touchpoints": [json.loads(load.single_body(i, "batch")) for i in range(size)]},
                      separators=(",", ":")).encode()


def ingest_batch(ctx: Context, out: Outcome) -> None:
    seconds = ctx.size(20, 2)
    connections = 4
    size = 500
    body = batch_body(size)
    with isolated(ctx.infra, "ingest-batch", database=False) as env:
        ingest = Service("ingest", {**env.env, **API_ENV})
        second = Service("ingest", {**env.env, **API_ENV}, name="ingest-2")
        with running(ingest, second):
            url = ingest.url + "/v1/touchpoints/batch"
            warm = [load.closed_loop(s.url + "/v1/touchpoints/batch", connections=connections, duration_s=ctx.size(3, 1),
                                     api_key=API_KEY, body=body, generator=ctx.generator) for s in (ingest, second)]
            say(f"ingest-batch: {size} touchpoints per request ({len(body) // 1024} KiB), {connections} connections, {seconds}s")
            r = _closed_loop(ctx, out, "ingest", ingest, url, connections=connections, seconds=seconds, body=body,
                             profile_as="ingest-batch")
            say(f"ingest-batch: two ingest instances side by side (both cores), {connections // 2} connections each, {seconds}s")
            pair = _side_by_side(ctx, out, (ingest, second), connections // 2, seconds, body)
        on_topic = _topic_records(env)
    accepted = (sum(w.accepted for w in warm) + r.accepted + sum(p.accepted for p in pair)) * size
    out.details["records_on_topic"] = on_topic
    out.details["accepted_total"] = accepted
    _check_topic(out, accepted, on_topic, in_flight=4 * connections * size)
    out.add(
        Metric("throughput, one ingest process", r.accepted_per_s * size, "touchpoints/s",
               note="one Python process uses one of the two cores"),
        Metric("request latency p50", r.p50_ms, "ms"),
        Metric("request latency p99", r.p99_ms, "ms"),
        Metric("throughput on both cores (two ingest processes)", sum(p.accepted_per_s for p in pair) * size,
               "touchpoints/s", Target(">=", 50_000),
               note="ingest is stateless: two processes side by side, as two replicas would run"),
        Metric("failed requests", float(r.failed + sum(p.failed for p in pair)), "", Target("<=", 0)),
    )
    out.notes.append(
        f"{size} touchpoints per request ({len(body) // 1024} KiB body), {connections} connections, {seconds} s; "
        f"generator {r.generator} used {r.generator_cores:.2f} cores. Then two ingest instances (two processes, as two "
        f"replicas) with {connections // 2} connections each for {seconds} s, to use the second core."
    )


def _side_by_side(ctx: Context, out: Outcome, services: tuple[Service, ...], connections: int, seconds: float,
                  body: bytes) -> list[load.ClosedLoopResult]:
    results: dict[str, load.ClosedLoopResult] = {}

    def run(s: Service) -> None:
        results[s.name] = load.closed_loop(s.url + "/v1/touchpoints/batch", connections=connections, duration_s=seconds,
                                           api_key=API_KEY, body=body, generator=ctx.generator)

    with Measure(out, "two instances", {s.name: [s.pid] for s in services}):
        threads = [threading.Thread(target=run, args=(s,)) for s in services]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 120)
    missing = [s.name for s in services if s.name not in results]
    if missing:
        raise RuntimeError(f"load against {', '.join(missing)} did not finish")
    out.details["two instances"] = {name: r.as_dict() for name, r in results.items()}
    return [results[s.name] for s in services]
