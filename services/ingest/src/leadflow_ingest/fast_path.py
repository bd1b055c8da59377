"""The hot paths, ``POST /v1/touchpoints`` and ``POST /v1/touchpoints/batch``, without FastAPI's
per-request machinery.

A well-formed touchpoint (or batch) with a valid key is parsed straight from the JSON bytes, filed
under its source, published and answered here: the same checks and the same answer as the routes in
``routes.py``, at a fraction of the CPU. It wraps the whole application (``install``), so it
also does the little the middlewares would do for such a request: the body limit, the trace
context (the caller's ``traceparent`` or a minted one, bound to log lines as ``trace_id``) and
the HTTP metrics. Anything else - an oversized body, no key or a wrong one, JSON that does not
parse or validate, a wrong source, a rate limit, a registry that cannot be reached - is handed
to the application with the body it came with, so every error answer (RFC 9457) and its
documentation stay in one place. While tracing is on, every request takes the application,
which makes the server span.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from leadflow_runtime import tracing
from leadflow_runtime.logs import get_logger
from leadflow_runtime.metrics import HTTP_LATENCY, HTTP_REQUESTS
from leadflow_runtime.problems import Problem, problem_response

from leadflow_ingest.auth import authenticate
from leadflow_ingest.contracts import Accepted, BatchAccepted, BatchIn, TouchpointIn
from leadflow_ingest.deps import kafka_unavailable
from leadflow_ingest.limits import read_body, replay_body
from leadflow_ingest.publish import KafkaUnavailable, encode_batch, encode_touchpoint, event_id_for, utcnow
from leadflow_ingest.routes import scope_touchpoints

PATH = "/v1/touchpoints"
BATCH_PATH = "/v1/touchpoints/batch"
JSON_HEADERS = [(b"content-type", b"application/json")]
log = get_logger(__name__)


def install(app: FastAPI, *, max_body_bytes: int, max_batch_body_bytes: int, max_batch_items: int) -> None:
    """Put the fast path in front of the application's middleware stack (built on the first request)."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: TouchpointFastPath(  # type: ignore[method-assign]
        build(), max_body_bytes=max_body_bytes, max_batch_body_bytes=max_batch_body_bytes, max_batch_items=max_batch_items,
    )


class _Delegate(Exception):
    """The request is not the plain case: the FastAPI route answers it."""


class TouchpointFastPath:
    """Plain ASGI, outermost: the common case answered here, everything else by ``app``."""

    def __init__(self, app: Any, *, max_body_bytes: int, max_batch_body_bytes: int = 1 << 20,
                 max_batch_items: int = 500) -> None:
        self.app = app
        self.limits = {PATH: max_body_bytes, BATCH_PATH: max_batch_body_bytes}
        self.max_batch_items = max_batch_items
        self._requests: dict[tuple[str, int], Any] = {}
        self._latency = {path: HTTP_LATENCY.labels("POST", path) for path in self.limits}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"] if scope["type"] == "http" and scope["method"] == "POST" else None
        limit = self.limits.get(path) if path is not None else None
        if limit is None or tracing.is_enabled():
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        body, within, more = await read_body(receive, limit)
        if not within:  # over the limit: the body-limit middleware answers 413
            await self.app(scope, replay_body(body, receive, more=more), send)
            return
        try:
            accepted: BaseModel = await (self._record if path == PATH else self._record_batch)(scope, body)
        except _Delegate:
            await self.app(scope, replay_body(body, receive), send)
            return
        except Problem as problem:  # after the checks: Kafka did not acknowledge
            response = problem_response(problem.status, problem.detail, instance=path, type_=problem.type,
                                        title=problem.title, headers=problem.headers, **problem.extensions)
            await response(scope, receive, send)
            self._observe(path, problem.status, start)
            return
        except Exception:
            log.exception("touchpoint fast path failed")
            response = problem_response(500, "Internal error while recording the touchpoints; they were not accepted.",
                                        instance=path)
            await response(scope, receive, send)
            self._observe(path, 500, start)
            return
        payload = accepted.model_dump_json().encode()
        await send({"type": "http.response.start", "status": 202,
                    "headers": [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
        self._observe(path, 202, start)

    async def _record(self, scope: dict[str, Any], body: bytes) -> Accepted:
        request, idempotency_key, received = _plain_request(scope)
        try:
            caller = await authenticate(request)
            item = TouchpointIn.model_validate_json(body)
            await scope_touchpoints(request, caller, [item])
        except (Problem, ValidationError):
            raise _Delegate from None
        # as TraceContextMiddleware does while tracing is off: the caller's trace, else a new one
        ctx = tracing.parse(received) or tracing.mint()
        record = encode_touchpoint(item, event_id_for(item, idempotency_key), utcnow(), tracing.format_traceparent(ctx))
        with structlog.contextvars.bound_contextvars(trace_id=tracing.trace_id_hex(ctx), event_id=record.id):
            await _publish(request, [record])
        return Accepted(event_id=record.id, lead_key=record.lead_key)

    async def _record_batch(self, scope: dict[str, Any], body: bytes) -> BatchAccepted:
        request, idempotency_key, received = _plain_request(scope)
        try:
            caller = await authenticate(request)
            batch = BatchIn.model_validate_json(body)
            if len(batch.touchpoints) > self.max_batch_items:
                raise _Delegate
            await scope_touchpoints(request, caller, batch.touchpoints)
        except (Problem, ValidationError):
            raise _Delegate from None
        ctx = tracing.parse(received) or tracing.mint()
        records = encode_batch(batch.touchpoints, idempotency_key, tracing.format_traceparent(ctx))
        with structlog.contextvars.bound_contextvars(trace_id=tracing.trace_id_hex(ctx)):
            await _publish(request, records)
        return BatchAccepted(accepted=len(records), event_ids=[r.id for r in records])

    def _observe(self, path: str, status: int, start: float) -> None:
        """The HTTP metrics, as HttpMetricsMiddleware records them for the route."""
        counter = self._requests.get((path, status))
        if counter is None:
            counter = self._requests[(path, status)] = HTTP_REQUESTS.labels("POST", path, str(status))
        counter.inc()
        self._latency[path].observe(time.perf_counter() - start)


def _plain_request(scope: dict[str, Any]) -> tuple[Request, str | None, str | None]:
    """The request, its Idempotency-Key and traceparent; ``_Delegate`` unless JSON with headers in bounds."""
    request = Request(scope)
    headers = request.headers
    idempotency_key, received = headers.get("idempotency-key"), headers.get("traceparent")
    if (not headers.get("content-type", "").startswith("application/json")
            or len(idempotency_key or "") > 128 or len(received or "") > 128):
        raise _Delegate
    return request, idempotency_key, received


async def _publish(request: Request, events: list[Any]) -> None:
    try:
        await request.app.state.publisher.publish(events)
    except KafkaUnavailable as exc:
        raise kafka_unavailable(request, exc) from exc
