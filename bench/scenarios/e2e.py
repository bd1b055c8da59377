"""``end-to-end``: from the HTTP POST that makes a lead sales qualified to the signed webhook at the receiver."""

from __future__ import annotations

import asyncio
import json
import os

from bench.core import Context, Measure, Metric, Outcome, Target, fmt
from bench.infra import say
from bench.load import open_loop, percentile
from bench.scenarios.ingest import API_KEY
from bench.scenarios.pipeline import Traffic, pipeline, verify_signatures
from leadflow_scoring.domain.scoring import lead_id_for

SEGMENTS = [
    "POST -> scoring transaction (ingest, Kafka, consumer poll)",
    "scoring transaction -> outbox relay publishes",
    "relay -> handover records the delivery (Kafka, consumer poll)",
    "delivery recorded -> webhook read by the receiver (dispatcher, signing, HTTP)",
]


def end_to_end(ctx: Context, out: Outcome) -> None:
    rate = ctx.size(500, 100)
    seconds = ctx.size(60, 4)
    traffic = Traffic(sql_every=ctx.size(50, 10), tag=os.urandom(3).hex())
    with pipeline(ctx, "end-to-end") as p:
        say(f"end-to-end: {rate}/s for {seconds}s, every {traffic.sql_every}th a demo request that makes a lead SQL")
        named = {s.name: [s.pid] for s in p.services}

        async def run() -> tuple[list, float, int]:
            with Measure(out, "under load", named):
                sent, cpu = await open_loop(
                    p.ingest.url + "/v1/touchpoints", rate=rate, duration_s=seconds, body_for=traffic.body,
                    api_key=API_KEY, on_progress=lambda i, backlog: say(f"  {i:,} due, {backlog:,} waiting for a connection"),
                )
            delivered = await p.wait_delivered(len(traffic.sql_emails), timeout=ctx.size(60, 30))
            return sent, cpu, delivered, await p.stage_times()

        sent, sender_cpu, delivered, stages = asyncio.run(run())
        arrivals = p.arrivals()
    sent_at = {traffic.sql_emails[s.index]: s.sent for s in sent if s.index in traffic.sql_emails and s.status == 202}
    latencies = []
    segments: dict[str, list[float]] = {name: [] for name in SEGMENTS}
    for a in arrivals:
        email = json.loads(a["body"])["lead"]["email"]
        if email in sent_at:
            posted = sent_at.pop(email)
            latencies.append((a["at"] - posted) * 1000)
            t = stages.get(lead_id_for(email))
            if t and t["published"] is not None:
                marks = [posted, t["scored"], t["published"], t["recorded"], a["at"]]
                for name, (begin, end) in zip(SEGMENTS, zip(marks, marks[1:])):
                    segments[name].append((end - begin) * 1000)
    missing = len(sent_at)
    accepted = sum(1 for s in sent if s.status == 202)
    lag = [max(s.sent - s.scheduled, 0) * 1000 for s in sent]
    post = [s.latency_s * 1000 for s in sent]
    valid = verify_signatures(arrivals)
    breakdown = {name: {"p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99)} for name, v in segments.items()}
    out.details.update({
        "rate_per_s": rate, "seconds": seconds, "sent": len(sent), "accepted": accepted,
        "sql_handovers_expected": len(traffic.sql_emails), "webhooks_received": len(arrivals),
        "webhooks_valid_signature": valid, "deliveries_succeeded": delivered, "sql_missing": missing,
        "ingest_post_p50_ms": percentile(post, 50), "ingest_post_p99_ms": percentile(post, 99),
        "sender_lag_p99_ms": percentile(lag, 99), "sender_cores": round(sender_cpu / seconds, 2),
        "breakdown": breakdown,
    })
    out.add(
        Metric("handovers measured", float(len(latencies)), ""),
        Metric("POST -> webhook p50", percentile(latencies, 50), "ms", Target("<", 50)),
        Metric("POST -> webhook p99", percentile(latencies, 99), "ms", Target("<", 250)),
        Metric("POST -> webhook p99.9", percentile(latencies, 99.9), "ms", Target("<", 1000)),
        Metric("POST -> webhook max", max(latencies, default=None), "ms"),
        Metric("SQL leads without a webhook", float(missing), "", Target("<=", 0)),
    )
    out.notes.append(
        f"Open loop: {rate} touchpoints/s into ingest for {seconds} s ({accepted:,} of {len(sent):,} accepted), "
        f"each sent at its scheduled time whatever the earlier ones were doing (sender lag p99 "
        f"{percentile(lag, 99) or 0:.1f} ms). Every {traffic.sql_every}th is a demo request from a new business lead, "
        f"which the default model fast-tracks to SQL; the rest are page views, clicks and downloads of returning "
        f"visitors. Latency: wall clock from just before the POST was written to the moment the receiver (its own "
        f"process) had read the webhook; {valid} of {len(arrivals)} webhooks carried a valid signature. Ingest "
        f"answered POSTs in p50 {percentile(post, 50) or 0:.1f} ms / p99 {percentile(post, 99) or 0:.1f} ms."
    )
    out.notes.append(
        "Where the time goes (p50 / p99 ms; each stage starts at a PostgreSQL transaction start, so a stage includes "
        "the wait for the next one to pick the work up): "
        + "; ".join(f"{name} {fmt(b['p50_ms'])} / {fmt(b['p99_ms'])}" for name, b in breakdown.items())
    )
    if len(latencies) < 1000:
        out.notes.append(f"p99.9 over {len(latencies)} handovers is close to the maximum: read it as such.")
