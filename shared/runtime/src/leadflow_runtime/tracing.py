"""OpenTelemetry tracing across HTTP and Kafka; off unless an OTLP endpoint is configured.

Trace context travels as a W3C ``traceparent``: in HTTP headers, in the CloudEvents
``traceparent`` extension attribute and in the Kafka record header of the same name.

- Off (the default) no span is started at all (the helpers below check first) and nothing
  is exported. Trace ids still flow - an incoming
  ``traceparent`` is passed on unchanged, and ingest mints one when a client sent none -
  so logs and events of one touchpoint can be correlated without a tracing backend.
- On, a TracerProvider with a batching OTLP/HTTP exporter is installed once per process,
  ``service.name`` = ``leadflow-<service>``; ``OTEL_TRACES_SAMPLER`` and the other
  standard ``OTEL_*`` variables of the SDK apply.

Span shapes (messaging semantic conventions): ingest's ``POST /v1/touchpoints`` (server,
made by FastAPI's native OpenTelemetry support) -> ``send <topic>`` (producer); a consumer's
``process <topic>`` per batch, the child of its record's context when the batch holds one
record and linked to every record's context otherwise; the outbox relay's ``send <topic>``
(producer, linked to the rows' contexts); handover's ``POST <destination>`` (client) per
delivery attempt. docs/operations.md has the table.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from leadflow_runtime.logs import get_logger

log = get_logger(__name__)

INSTRUMENTATION = "leadflow"
MAX_LINKS = 128  # the SDK's default span limit; more links than this are dropped anyway
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer(INSTRUMENTATION)  # a proxy: it follows the provider installed later
_provider: Any = None  # the SDK TracerProvider this process installed, if any


def otlp_endpoint(configured: str | None) -> str | None:
    """``LEADFLOW_OTEL_EXPORTER_OTLP_ENDPOINT``, else the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    return configured or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def configure_tracing(service: str, endpoint: str | None) -> bool:
    """Install the exporting TracerProvider when an endpoint is set; return whether tracing is on.

    Idempotent: the first call in a process wins (OpenTelemetry allows one global provider).
    """
    global _provider
    endpoint = otlp_endpoint(endpoint)
    if not endpoint:
        return is_enabled()
    if _provider is not None:
        return True
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"leadflow-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
    trace.set_tracer_provider(provider)
    _provider = provider
    log.info("tracing on", exporter="otlp/http", endpoint=traces_url(endpoint), service_name=f"leadflow-{service}")
    return True


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP base URL (as in ``OTEL_EXPORTER_OTLP_ENDPOINT``) plus the traces path."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def flush_tracing(timeout_millis: int = 5000) -> None:
    """Export what the batch processor still holds (on shutdown)."""
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        try:
            force_flush(timeout_millis)
        except Exception as exc:  # a tracing backend that is away must not spoil a shutdown
            log.warning("flushing spans failed", error=str(exc)[:300])


def is_enabled() -> bool:
    """Whether spans are recorded (an SDK provider is installed, by us or by a test).

    Asked on every request and record: the provider set with ``set_tracer_provider`` is read
    directly, since ``get_tracer_provider()`` looks at the environment on each call until one is set.
    """
    provider = getattr(trace, "_TRACER_PROVIDER", None)
    if provider is None:
        return False
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def tracer() -> trace.Tracer:
    return _tracer


# ---------------------------------------------------------------------------- traceparent


def parse(traceparent: str | bytes | None) -> SpanContext | None:
    """The span context a ``traceparent`` names, or None when it is missing or malformed."""
    if not traceparent:
        return None
    if isinstance(traceparent, bytes):
        traceparent = traceparent.decode("latin-1")
    ctx = trace.get_current_span(_propagator.extract({"traceparent": traceparent})).get_span_context()
    return ctx if ctx.is_valid else None


def format_traceparent(ctx: SpanContext | None) -> str | None:
    if ctx is None or not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def current_traceparent() -> str | None:
    return format_traceparent(trace.get_current_span().get_span_context())


def trace_id_hex(ctx: SpanContext | None) -> str | None:
    return f"{ctx.trace_id:032x}" if ctx is not None and ctx.is_valid else None


def log_fields(traceparent: str | bytes | None) -> dict[str, str]:
    """``{"trace_id": ...}`` for a log line about work done for ``traceparent`` (empty without one)."""
    trace_id = trace_id_hex(parse(traceparent))
    return {"trace_id": trace_id} if trace_id else {}


def mint() -> SpanContext:
    """A fresh trace for a request that came without one while tracing is off.

    Marked sampled, so services further down that do trace record their part of it.
    """
    return SpanContext(
        trace_id=random.getrandbits(128) or 1, span_id=random.getrandbits(64) or 1, is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def header_value(headers: Iterable[tuple[str, Any]] | None, name: str = "traceparent") -> Any:
    for key, value in headers or ():
        if key == name:
            return value
    return None


def links_to(traceparents: Iterable[str | bytes | None]) -> list[Link]:
    """Links to the distinct valid contexts among ``traceparents`` (empty while tracing is off)."""
    if not is_enabled():
        return []
    seen: set[tuple[int, int]] = set()
    links = []
    for tp in traceparents:
        ctx = parse(tp)
        if ctx is None or (ctx.trace_id, ctx.span_id) in seen:
            continue
        seen.add((ctx.trace_id, ctx.span_id))
        links.append(Link(ctx))
        if len(links) >= MAX_LINKS:
            break
    return links


# ---------------------------------------------------------------------------- spans


@contextmanager
def producer_span(topic: str, count: int, *, links: Sequence[Link] = (), **attributes: Any) -> Iterator[Span]:
    """``send <topic>``: a publish of ``count`` records, child of the current span."""
    if not is_enabled():
        yield trace.get_current_span()
        return
    attrs = {"messaging.system": "kafka", "messaging.operation.type": "send", "messaging.destination.name": topic,
             "messaging.batch.message_count": count, **attributes}
    with tracer().start_as_current_span(f"send {topic}", kind=SpanKind.PRODUCER, attributes=attrs, links=links) as span:
        yield span


@contextmanager
def consumer_span(
    topics: Sequence[str], group: str, traceparents: Sequence[str | bytes | None], *, event_id: str | None = None
) -> Iterator[Span]:
    """``process <topic>`` for one batch, with ``trace_id`` (and ``event_id``) bound to the logs.

    One record: the span is a child of that record's context. Several: a new trace,
    linked to each record's context (a batch has many parents).
    """
    parent = None
    links: list[Link] = []
    if len(traceparents) == 1:
        ctx = parse(traceparents[0])
        if ctx is not None:
            parent = trace.set_span_in_context(NonRecordingSpan(ctx))
        if not is_enabled():  # no span: the record's context is enough for the logs
            with _context_only(ctx, event_id) as span:
                yield span
            return
    elif not is_enabled():
        yield trace.INVALID_SPAN
        return
    else:
        links = links_to(traceparents)
    name = f"process {topics[0]}" if len(set(topics)) == 1 else "process"
    attrs: dict[str, Any] = {"messaging.system": "kafka", "messaging.operation.type": "process",
                             "messaging.consumer.group.name": group, "messaging.batch.message_count": len(traceparents)}
    if len(set(topics)) == 1:
        attrs["messaging.destination.name"] = topics[0]
    if event_id:
        attrs["messaging.message.id"] = event_id
    with tracer().start_as_current_span(name, context=parent, kind=SpanKind.CONSUMER, attributes=attrs, links=links) as span:
        bound = {"trace_id": trace_id_hex(span.get_span_context())}
        if event_id:
            bound["event_id"] = event_id
        with structlog.contextvars.bound_contextvars(**{k: v for k, v in bound.items() if v}):
            yield span


@contextmanager
def client_span(name: str, traceparent: str | None, **attributes: Any) -> Iterator[Span]:
    """An outgoing call (a delivery attempt), child of the context ``traceparent`` names."""
    ctx = parse(traceparent)
    if not is_enabled():
        with _context_only(ctx) as span:
            yield span
        return
    parent = trace.set_span_in_context(NonRecordingSpan(ctx)) if ctx is not None else otel_context.Context()
    with tracer().start_as_current_span(name, context=parent, kind=SpanKind.CLIENT, attributes=attributes) as span:
        trace_id = trace_id_hex(span.get_span_context())
        with structlog.contextvars.bound_contextvars(**({"trace_id": trace_id} if trace_id else {})):
            yield span


@contextmanager
def _context_only(ctx: SpanContext | None, event_id: str | None = None) -> Iterator[Span]:
    """Tracing off: make ``ctx`` current (trace ids keep flowing) and bind it to the logs; record nothing."""
    span = NonRecordingSpan(ctx) if ctx is not None else trace.INVALID_SPAN
    bound = {k: v for k, v in (("trace_id", trace_id_hex(ctx)), ("event_id", event_id)) if v}
    with trace.use_span(span, end_on_exit=False), structlog.contextvars.bound_contextvars(**bound):
        yield span


def set_http_status(span: Span, status: int | None) -> None:
    """The answer to an outgoing call; no answer (timeout, refused) or a 4xx/5xx marks the span failed."""
    if status is not None:
        span.set_attribute("http.response.status_code", status)
    if status is None or status >= 400:
        span.set_status(Status(StatusCode.ERROR))


UNTRACED_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})


def _untraced(scope: Any) -> bool:
    return scope.get("path") in UNTRACED_PATHS


FASTAPI_TELEMETRY: Any = {"exclude": _untraced, "auto_configure": False}
"""``FastAPI(telemetry=...)``: FastAPI's native OpenTelemetry support makes the server span of
every request (continuing the caller's ``traceparent``) while tracing is on; probes and
scrapes are left out, and exporters are set up here, not by FastAPI."""


class TraceContextMiddleware:
    """Gives every request a trace context and binds its ``trace_id`` to the request's log lines.

    While tracing is on it is FastAPI's server span. While off it is the caller's
    ``traceparent`` passed on unchanged, or a minted one when the caller sent none, so
    whatever the request publishes carries a trace id.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or _untraced(scope):
            await self.app(scope, receive, send)
            return
        ctx = trace.get_current_span().get_span_context()
        token = None
        if not ctx.is_valid:
            received = next((v for k, v in scope["headers"] if k == b"traceparent"), None)
            ctx = parse(received) or mint()
            token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(ctx)))
        try:
            with structlog.contextvars.bound_contextvars(trace_id=trace_id_hex(ctx)):
                await self.app(scope, receive, send)
        finally:
            if token is not None:
                otel_context.detach(token)
