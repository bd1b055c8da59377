"""The hot path of ``POST /v1/touchpoints`` without FastAPI's per-request machinery.

A well-formed touchpoint with a valid key is parsed straight from the JSON bytes, filed under
its source, published and answered here: the same checks and the same answer as the route in
``routes.py``, at a fraction of the CPU (dependency resolution and response validation cost more
than the rest of the request together). Anything else - no key or a wrong one, JSON that does
not parse or validate, a wrong source, a rate limit, a registry that cannot be reached - is
handed to the FastAPI route with the body it came with, so every error answer (RFC 9457) and
its documentation stay in one place. While tracing is on, every request takes the route, which
makes the server span.
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError
from starlette.requests import Request

from leadflow_runtime import tracing
from leadflow_runtime.problems import Problem, problem_response

from leadflow_ingest.auth import authenticate
from leadflow_ingest.contracts import Accepted, TouchpointIn
from leadflow_ingest.deps import kafka_unavailable
from leadflow_ingest.publish import KafkaUnavailable, build_event, event_id_for, utcnow
from leadflow_ingest.routes import request_traceparent, router, scope_touchpoints

PATH = "/v1/touchpoints"
JSON_HEADERS = [(b"content-type", b"application/json")]


class _Delegate(Exception):
    """The request is not the plain case: the FastAPI route answers it."""


class TouchpointFastPath:
    """Plain ASGI middleware; the innermost one, so body limits, metrics and trace ids still apply."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._route: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or tracing.is_enabled():
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            accepted = await self._record(scope, body)
        except _Delegate:
            await self.app(scope, _replay(body, receive), send)
            return
        except Problem as problem:  # after the checks: Kafka did not acknowledge
            self._mark_route(scope)
            response = problem_response(problem.status, problem.detail, instance=PATH, type_=problem.type,
                                        title=problem.title, headers=problem.headers, **problem.extensions)
            await response(scope, receive, send)
            return
        self._mark_route(scope)
        payload = accepted.model_dump_json().encode()
        await send({"type": "http.response.start", "status": 202,
                    "headers": [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def _record(self, scope: dict[str, Any], body: bytes) -> Accepted:
        request = Request(scope)
        headers = request.headers
        idempotency_key, traceparent = headers.get("idempotency-key"), headers.get("traceparent")
        if (not headers.get("content-type", "").startswith("application/json")
                or len(idempotency_key or "") > 128 or len(traceparent or "") > 128):
            raise _Delegate
        try:
            caller = await authenticate(request)
            item = TouchpointIn.model_validate_json(body)
            await scope_touchpoints(request, caller, [item])
        except (Problem, ValidationError):
            raise _Delegate from None
        event = build_event(item, event_id_for(item, idempotency_key), utcnow(), request_traceparent(traceparent))
        with structlog.contextvars.bound_contextvars(event_id=event.id):
            try:
                await request.app.state.publisher.publish([event])
            except KafkaUnavailable as exc:
                raise kafka_unavailable(request, exc) from exc
        return Accepted(event_id=event.id, lead_key=event.data.identity.lead_key)

    def _mark_route(self, scope: dict[str, Any]) -> None:
        """Name the route for the HTTP metrics, as FastAPI's router would."""
        if self._route is None:
            self._route = next(
                (r for r in router.routes if getattr(r, "path", None) == PATH and "POST" in getattr(r, "methods", ())),
                None,
            )
        scope["route"] = self._route


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
