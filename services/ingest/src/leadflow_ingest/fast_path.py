"""The hot path of ``POST /v1/touchpoints`` without FastAPI's per-request machinery.

A well-formed touchpoint with a valid key is parsed straight from the JSON bytes, filed under
its source, published and answered here: the same checks and the same answer as the route in
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
from pydantic import ValidationError
from starlette.requests import Request

from leadflow_runtime import tracing
from leadflow_runtime.logs import get_logger
from leadflow_runtime.metrics import HTTP_LATENCY, HTTP_REQUESTS
from leadflow_runtime.problems import Problem, problem_response

from leadflow_ingest.auth import authenticate
from leadflow_ingest.contracts import Accepted, TouchpointIn
from leadflow_ingest.deps import kafka_unavailable
from leadflow_ingest.limits import read_body, replay_body
from leadflow_ingest.publish import KafkaUnavailable, build_event, event_id_for, utcnow
from leadflow_ingest.routes import scope_touchpoints

PATH = "/v1/touchpoints"
JSON_HEADERS = [(b"content-type", b"application/json")]
log = get_logger(__name__)


def install(app: FastAPI, *, max_body_bytes: int) -> None:
    """Put the fast path in front of the application's middleware stack (built on the first request)."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: TouchpointFastPath(build(), max_body_bytes=max_body_bytes)  # type: ignore[method-assign]


class _Delegate(Exception):
    """The request is not the plain case: the FastAPI route answers it."""


class TouchpointFastPath:
    """Plain ASGI, outermost: the common case answered here, everything else by ``app``."""

    def __init__(self, app: Any, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._requests: dict[int, Any] = {}
        self._latency = HTTP_LATENCY.labels("POST", PATH)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or tracing.is_enabled():
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        body, within, more = await read_body(receive, self.max_body_bytes)
        if not within:  # over the limit: the body-limit middleware answers 413
            await self.app(scope, replay_body(body, receive, more=more), send)
            return
        try:
            accepted = await self._record(scope, body)
        except _Delegate:
            await self.app(scope, replay_body(body, receive), send)
            return
        except Problem as problem:  # after the checks: Kafka did not acknowledge
            response = problem_response(problem.status, problem.detail, instance=PATH, type_=problem.type,
                                        title=problem.title, headers=problem.headers, **problem.extensions)
            await response(scope, receive, send)
            self._observe(problem.status, start)
            return
        except Exception:
            log.exception("touchpoint fast path failed")
            response = problem_response(500, "Internal error while recording the touchpoint; it was not accepted.",
                                        instance=PATH)
            await response(scope, receive, send)
            self._observe(500, start)
            return
        payload = accepted.model_dump_json().encode()
        await send({"type": "http.response.start", "status": 202,
                    "headers": [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
        self._observe(202, start)

    async def _record(self, scope: dict[str, Any], body: bytes) -> Accepted:
        request = Request(scope)
        headers = request.headers
        idempotency_key, received = headers.get("idempotency-key"), headers.get("traceparent")
        if (not headers.get("content-type", "").startswith("application/json")
                or len(idempotency_key or "") > 128 or len(received or "") > 128):
            raise _Delegate
        try:
            caller = await authenticate(request)
            item = TouchpointIn.model_validate_json(body)
            await scope_touchpoints(request, caller, [item])
        except (Problem, ValidationError):
            raise _Delegate from None
        # as TraceContextMiddleware does while tracing is off: the caller's trace, else a new one
        ctx = tracing.parse(received) or tracing.mint()
        event = build_event(item, event_id_for(item, idempotency_key), utcnow(), tracing.format_traceparent(ctx))
        with structlog.contextvars.bound_contextvars(trace_id=tracing.trace_id_hex(ctx), event_id=event.id):
            try:
                await request.app.state.publisher.publish([event])
            except KafkaUnavailable as exc:
                raise kafka_unavailable(request, exc) from exc
        return Accepted(event_id=event.id, lead_key=event.data.identity.lead_key)

    def _observe(self, status: int, start: float) -> None:
        """The HTTP metrics, as HttpMetricsMiddleware records them for the route."""
        counter = self._requests.get(status)
        if counter is None:
            counter = self._requests[status] = HTTP_REQUESTS.labels("POST", PATH, str(status))
        counter.inc()
        self._latency.observe(time.perf_counter() - start)
