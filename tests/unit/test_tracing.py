"""Tracing without a broker: spans, their parents and links, the traceparent on records and in logs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI, Header
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from leadflow_events import decode_event
from leadflow_ingest.contracts import TouchpointIn
from leadflow_ingest.publish import TouchpointPublisher, build_event
from leadflow_ingest.routes import request_traceparent
from leadflow_runtime import tracing
from leadflow_runtime.logs import add_trace_id
from leadflow_runtime.metrics import metrics_router

ROOT = Path(__file__).resolve().parents[2]
INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def in_memory_spans() -> InMemorySpanExporter:
    """Record spans in this process (one SDK provider per process; each caller gets its own exporter)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return in_memory_spans()


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    exporter.clear()
    return exporter


class FakeProducer:
    """Stands in for AIOKafkaProducer: every send is acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, topic, value, key, headers):  # type: ignore[no-untyped-def]
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": headers})
        ack = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack


def edge_app(producer: FakeProducer) -> FastAPI:
    """Ingest's tracing hooks in the order the ingest app runs them: middleware, route, publisher.

    (The real app, on the real broker, is in tests/integration/test_tracing.py.)
    """
    app = FastAPI(telemetry=tracing.FASTAPI_TELEMETRY)
    publisher = TouchpointPublisher(producer, "touchpoints", timeout=1.0)  # type: ignore[arg-type]
    publisher.started = True

    @app.post("/v1/touchpoints", status_code=202)
    async def record(item: TouchpointIn, traceparent: str | None = Header(default=None)) -> dict:
        event = build_event(item, "ev-1", datetime.now(UTC), request_traceparent(traceparent))
        await publisher.publish([event])
        return {"event_id": event.id}

    app.include_router(metrics_router())
    app.add_middleware(tracing.TraceContextMiddleware)
    return app


async def post_touchpoint(headers: dict[str, str] | None = None) -> tuple[httpx.Response, FakeProducer]:
    producer = FakeProducer()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=edge_app(producer)), base_url="http://ingest") as client:
        r = await client.post("/v1/touchpoints", json={"type": "form_submitted", "email": "ada@acme.example"}, headers=headers)
    return r, producer


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LEADFLOW_OTEL_"))}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env={**clean, **env}, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


# ---------------------------------------------------------------------------- off and on


def test_without_an_endpoint_tracing_is_off_yet_every_touchpoint_gets_a_trace_id():
    result = run_python("""
        import asyncio, httpx, structlog
        from leadflow_runtime import tracing
        from tests.unit.test_tracing import FakeProducer, edge_app

        assert tracing.configure_tracing("ingest", None) is False
        assert not tracing.is_enabled()
        with tracing.tracer().start_as_current_span("x") as span:
            assert not span.is_recording()
        # off, the helpers record nothing but keep the record's context current and in the logs
        with tracing.consumer_span(["t"], "g", [b"{INCOMING}"], event_id="ev-1") as span:
            assert not span.is_recording() and tracing.current_traceparent() == "{INCOMING}"
            assert structlog.contextvars.get_contextvars() == {"trace_id": "{TRACE_ID}", "event_id": "ev-1"}
        with tracing.client_span("POST crm", "{INCOMING}"):
            assert tracing.current_traceparent() == "{INCOMING}"  # what the receiver gets
        with tracing.client_span("POST crm", None):
            assert tracing.current_traceparent() is None
        assert structlog.contextvars.get_contextvars() == {}

        async def main():
            producer = FakeProducer()
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=edge_app(producer)), base_url="http://i") as c:
                await c.post("/v1/touchpoints", json={"type": "page_viewed", "anonymous_id": "a1"})
                await c.post("/v1/touchpoints", json={"type": "page_viewed", "anonymous_id": "a2"},
                             headers={"traceparent": "{INCOMING}"})
            minted = dict(producer.sent[0]["headers"])["traceparent"].decode()
            passed = dict(producer.sent[1]["headers"])["traceparent"].decode()
            assert tracing.parse(minted) is not None, minted
            assert passed == "{INCOMING}", passed  # no span of ours: the caller's context goes on unchanged
            print("ok")

        asyncio.run(main())
    """.replace("{INCOMING}", INCOMING).replace("{TRACE_ID}", INCOMING.split("-")[1]))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_an_otlp_endpoint_exports_spans_named_after_the_service():
    result = run_python("""
        import os, threading
        from http.server import BaseHTTPRequestHandler, HTTPServer
        from leadflow_runtime import tracing

        bodies = []

        class Collector(BaseHTTPRequestHandler):
            def do_POST(self):
                bodies.append((self.path, self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = HTTPServer(("127.0.0.1", 0), Collector)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:%d" % server.server_address[1]
        assert tracing.configure_tracing("scoring", None)  # the standard variable is enough
        with tracing.tracer().start_as_current_span("process test-topic"):
            pass
        tracing.flush_tracing()
        server.shutdown()
        assert bodies, "nothing exported"
        path, body = bodies[0]
        assert path == "/v1/traces", path
        assert b"leadflow-scoring" in body and b"process test-topic" in body
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_the_leadflow_variable_names_the_collector_and_wins_over_the_standard_one(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://standard:4318")
    assert tracing.otlp_endpoint("http://leadflow:4318") == "http://leadflow:4318"
    assert tracing.otlp_endpoint(None) == "http://standard:4318"
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert tracing.otlp_endpoint(None) is None
    assert tracing.traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert tracing.traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


# ---------------------------------------------------------------------------- traceparent


def test_traceparent_round_trip_and_malformed_values():
    ctx = tracing.parse(INCOMING)
    assert ctx is not None and ctx.trace_id == 0x0AF7651916CD43DD8448EB211C80319C and ctx.span_id == 0xB7AD6B7169203331
    assert tracing.format_traceparent(ctx) == INCOMING
    assert tracing.parse(INCOMING.encode()) == ctx
    for bad in (None, "", "garbage", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "00-abc-def-01"):
        assert tracing.parse(bad) is None
    assert tracing.log_fields(INCOMING) == {"trace_id": "0af7651916cd43dd8448eb211c80319c"}
    assert tracing.log_fields("garbage") == {} == tracing.log_fields(None)
    minted = tracing.mint()
    assert minted.is_valid and tracing.parse(tracing.format_traceparent(minted)) is not None


# ---------------------------------------------------------------------------- ingest


async def test_ingest_request_span_and_the_record_share_one_trace(spans):
    r, producer = await post_touchpoint()
    assert r.status_code == 202, r.text
    finished = spans.get_finished_spans()
    server = next(s for s in finished if s.kind is SpanKind.SERVER)
    produce = next(s for s in finished if s.kind is SpanKind.PRODUCER)
    assert server.parent is None and server.name == "POST /v1/touchpoints"
    assert server.attributes["http.route"] == "/v1/touchpoints" and server.attributes["http.response.status_code"] == 202
    assert produce.name == "send touchpoints" and produce.context.trace_id == server.context.trace_id
    assert produce.attributes["messaging.batch.message_count"] == 1

    header = dict(producer.sent[0]["headers"])["traceparent"].decode()
    event = decode_event(producer.sent[0]["value"], producer.sent[0]["headers"])
    assert event.traceparent == header
    assert tracing.parse(header).trace_id == server.context.trace_id
    # consumers continue the request: the record names one of its spans (FastAPI's endpoint span) as parent
    assert tracing.parse(header).span_id in {s.context.span_id for s in finished}


async def test_ingest_continues_the_callers_trace(spans):
    r, producer = await post_touchpoint({"traceparent": INCOMING})
    assert r.status_code == 202
    server = next(s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER)
    incoming = tracing.parse(INCOMING)
    assert server.context.trace_id == incoming.trace_id and server.parent.span_id == incoming.span_id
    assert tracing.parse(dict(producer.sent[0]["headers"])["traceparent"]).trace_id == incoming.trace_id


async def test_scrapes_make_no_spans(spans):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=edge_app(FakeProducer())), base_url="http://i") as client:
        assert (await client.get("/metrics")).status_code == 200
    assert spans.get_finished_spans() == ()


# ---------------------------------------------------------------------------- consumer, client, logs


def test_a_one_record_batch_is_a_child_and_a_larger_batch_links_every_record(spans):
    other = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01"
    with tracing.consumer_span(["t"], "g", [INCOMING.encode()], event_id="ev-1"):
        bound = structlog.contextvars.get_contextvars()
    with tracing.consumer_span(["t", "t"], "g", [INCOMING.encode(), other.encode(), None, b"junk", INCOMING.encode()]):
        pass
    single, batch = spans.get_finished_spans()
    assert single.kind is SpanKind.CONSUMER and single.name == "process t"
    assert single.context.trace_id == tracing.parse(INCOMING).trace_id
    assert single.parent.span_id == tracing.parse(INCOMING).span_id
    assert bound["trace_id"] == f"{single.context.trace_id:032x}" and bound["event_id"] == "ev-1"
    assert "trace_id" not in structlog.contextvars.get_contextvars()  # unbound after the batch
    assert batch.parent is None
    assert {link.context.trace_id for link in batch.links} == {tracing.parse(INCOMING).trace_id, tracing.parse(other).trace_id}
    assert batch.attributes["messaging.batch.message_count"] == 5


def test_a_delivery_attempt_is_a_child_of_the_stage_events_trace(spans):
    with tracing.client_span("POST crm", INCOMING, **{"leadflow.destination": "crm"}) as span:
        sent = tracing.current_traceparent()
        tracing.set_http_status(span, 503)
    attempt = spans.get_finished_spans()[0]
    assert attempt.kind is SpanKind.CLIENT and attempt.parent.span_id == tracing.parse(INCOMING).span_id
    assert tracing.parse(sent).span_id == attempt.context.span_id  # what the receiver gets
    assert not attempt.status.is_ok


def test_log_lines_inside_a_span_carry_its_trace_id(spans):
    with tracing.tracer().start_as_current_span("work") as span:
        line = add_trace_id(None, "info", {"event": "hello"})
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert add_trace_id(None, "info", {"event": "outside"}) == {"event": "outside"}
    assert add_trace_id(None, "info", {"event": "bound", "trace_id": "x"})["trace_id"] == "x"
