"""One trace from the HTTP request through Kafka, scoring and the outbox to the handover attempt.

The services run in-process on the real broker and database; spans are collected with the
OpenTelemetry SDK's in-memory exporter.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from leadflow_events import decode_event
from leadflow_handover.app import create_app as create_handover
from leadflow_handover.settings import HandoverSettings
from leadflow_ingest.app import create_app as create_ingest
from leadflow_ingest.settings import IngestSettings
from leadflow_runtime import tracing
from leadflow_scoring.app import create_app as create_scoring
from leadflow_scoring.settings import ScoringSettings
from tests.support.kafka import read_all
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.integration
SECRET = "whsec_" + base64.b64encode(b"tracing-integration-secret-0001").decode()
BOSS = {"job_title": "VP Sales", "company_size": 400, "company": "Bigco"}


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def settings_kw(test_env) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {k.removeprefix("LEADFLOW_").lower(): v for k, v in test_env.env.items()}


@contextlib.asynccontextmanager
async def ingest_client(test_env):  # type: ignore[no-untyped-def]
    app = create_ingest(IngestSettings(kafka_bootstrap=test_env.infra.kafka_bootstrap,
                                       topic_touchpoints=test_env.touchpoints_topic))
    async with app.router.lifespan_context(app):
        for _ in range(100):  # the producer connects in the background
            if app.state.publisher.started:
                break
            await asyncio.sleep(0.1)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            yield client


async def record_of(test_env, event_id: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for rec in await read_all(test_env.infra.kafka_bootstrap, test_env.touchpoints_topic, timeout=5):
            if decode_event(rec.value, rec.headers).id == event_id:
                return rec
    raise AssertionError(f"event {event_id} not on the topic")


def traceparent_header(rec) -> str:  # type: ignore[no-untyped-def]
    value = tracing.header_value(rec.headers)
    assert value, f"record without traceparent: {rec.headers}"
    return value.decode()


def in_trace(span: ReadableSpan, trace_id: int) -> bool:
    """Part of the trace, or (a batch with several parents) linked to it."""
    return span.context.trace_id == trace_id or any(link.context.trace_id == trace_id for link in span.links)


async def test_a_touchpoint_post_makes_a_server_span_and_a_record_of_the_same_trace(test_env, spans):
    spans.clear()
    async with ingest_client(test_env) as client:
        r = await client.post("/v1/touchpoints", json={"type": "form_submitted", "email": "trace@acme.example"})
        continued = await client.post(
            "/v1/touchpoints", json={"type": "page_viewed", "email": "trace@acme.example"},
            headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        )
    assert r.status_code == 202 and continued.status_code == 202, (r.text, continued.text)

    header = traceparent_header(await record_of(test_env, r.json()["event_id"]))
    ctx = tracing.parse(header)
    assert ctx is not None
    mine = [s for s in spans.get_finished_spans() if s.context.trace_id == ctx.trace_id]
    server = [s for s in mine if s.kind is SpanKind.SERVER]
    assert len(server) == 1 and server[0].name == "POST /v1/touchpoints" and server[0].parent is None
    assert server[0].attributes["http.response.status_code"] == 202
    producer = [s for s in mine if s.kind is SpanKind.PRODUCER]
    assert [p.name for p in producer] == [f"send {test_env.touchpoints_topic}"]
    assert ctx.span_id in {s.context.span_id for s in mine}  # the record's parent is a span of this request

    header = traceparent_header(await record_of(test_env, continued.json()["event_id"]))
    assert tracing.parse(header).trace_id == 0x0AF7651916CD43DD8448EB211C80319C  # the caller's trace goes on


@pytest.fixture(scope="module")
async def pipeline(test_env, spans) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """An SQL lead through ingest, scoring and handover; the spans, the traces and what the receiver got."""
    with WebhookReceiver() as receiver:
        scoring = create_scoring(ScoringSettings(**settings_kw(test_env)))
        handover = create_handover(HandoverSettings(
            **settings_kw(test_env),
            handover_destinations=[{"name": "crm", "url": receiver.url, "secrets": [SECRET]}],
            handover_retry_schedule=(0, 0.3, 0.3),
        ))
        async with scoring.router.lifespan_context(scoring), handover.router.lifespan_context(handover):
            async with ingest_client(test_env) as client:
                first = await client.post("/v1/touchpoints", json={
                    "type": "form_submitted", "email": "vp@traced.example", "profile": BOSS})
                demo = await client.post("/v1/touchpoints", json={"type": "demo_requested", "email": "vp@traced.example"})
            assert first.status_code == 202 and demo.status_code == 202, (first.text, demo.text)
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                got = [r for r in receiver.snapshot() if r.json["lead"]["email"] == "vp@traced.example"]
                if got:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("no webhook for the SQL lead")
            await asyncio.sleep(0.5)  # the attempt's span ends after its outcome is recorded
    demo_trace = tracing.parse(traceparent_header(await record_of(test_env, demo.json()["event_id"])))
    return {"spans": spans.get_finished_spans(), "trace_id": demo_trace.trace_id, "webhook": got[0]}


async def test_scoring_and_its_outbox_relay_continue_the_touchpoints_trace(test_env, pipeline):
    trace_id, finished = pipeline["trace_id"], pipeline["spans"]
    consumed = [s for s in finished if s.kind is SpanKind.CONSUMER and s.name == f"process {test_env.touchpoints_topic}"]
    assert any(in_trace(s, trace_id) for s in consumed), "no scoring batch span in or linked to the trace"
    batch = next(s for s in consumed if in_trace(s, trace_id))
    assert batch.attributes["messaging.consumer.group.name"] == test_env.env["LEADFLOW_SCORING_GROUP_ID"]
    relayed = [s for s in finished if s.kind is SpanKind.PRODUCER and s.name == f"send {test_env.stages_topic}"]
    assert any(in_trace(s, trace_id) for s in relayed), "the outbox relay's span is not linked to the trace"


async def test_handover_consumes_in_the_trace_and_sends_traceparent_to_the_receiver(test_env, pipeline):
    trace_id, finished = pipeline["trace_id"], pipeline["spans"]
    consumed = [s for s in finished if s.kind is SpanKind.CONSUMER and s.name == f"process {test_env.stages_topic}"]
    assert any(in_trace(s, trace_id) for s in consumed), "no handover batch span in or linked to the trace"
    attempts = [s for s in finished if s.kind is SpanKind.CLIENT and s.name == "POST crm"]
    sent = tracing.parse(pipeline["webhook"].headers["traceparent"])
    attempt = next(s for s in attempts if s.context.span_id == sent.span_id)  # the receiver can continue the attempt
    assert attempt.attributes["leadflow.delivery.id"] == pipeline["webhook"].headers["webhook-id"]
    assert attempt.attributes["http.response.status_code"] == 200


async def test_the_handover_attempt_is_a_child_of_the_stage_events_trace(pipeline):
    sent = tracing.parse(pipeline["webhook"].headers["traceparent"])
    attempt = next(s for s in pipeline["spans"] if s.context.span_id == sent.span_id)
    assert attempt.context.trace_id == pipeline["trace_id"]
    # its parent is the span the stage event names: the request's, in ingest
    request_spans = {s.context.span_id for s in pipeline["spans"] if s.context.trace_id == pipeline["trace_id"]}
    assert attempt.parent is not None and attempt.parent.span_id in request_spans
