"""``POST /v1/touchpoints``, ``POST /v1/touchpoints/batch`` and ``POST /v1/sources/{id}/touchpoints``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import structlog
from fastapi import APIRouter, Header, Request, status

from leadflow_runtime.problems import Problem
from leadflow_runtime.tracing import current_traceparent

from leadflow_ingest.auth import Authenticated, Caller
from leadflow_ingest.contracts import Accepted, BatchAccepted, BatchIn, TouchpointIn
from leadflow_ingest.deps import SourceId, publish_or_503, source_or_404, take_rate_limit
from leadflow_ingest.problem_docs import problems
from leadflow_ingest.publish import encode_batch, encode_touchpoint, event_id_for, utcnow

router = APIRouter(prefix="/v1", tags=["touchpoints"])

PROBLEM_RESPONSES = problems(400, 401, 403, 404, 413, 422, 429, 503)

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=128, description="Resending with the same key records the touchpoint once."),
]
TraceParent = Annotated[str | None, Header(alias="traceparent", max_length=128, include_in_schema=False)]


def request_traceparent(received: str | None) -> str | None:
    """The request's trace context (its server span's; see ``TracingMiddleware``), so every touchpoint carries one."""
    return current_traceparent() or received


async def scope_touchpoints(request: Request, caller: Caller, items: Sequence[TouchpointIn], path_source: str | None = None) -> None:
    """Files each touchpoint under the caller's source: 403 for another source, then that source's rate limit."""
    if path_source is not None and not caller.may_speak_for(path_source):
        raise Problem(403, f"This API key belongs to source `{caller.source_id}`; it cannot send to source `{path_source}`.",
                      type_="https://leadflow.dev/problems/wrong-source")
    target = path_source or caller.source_id
    for item in items:
        if item.source_id and target and item.source_id != target:
            whose = f"This API key belongs to source `{caller.source_id}`" if caller.source_id else f"This endpoint is source `{target}`'s"
            raise Problem(403, f"{whose}; it cannot send touchpoints for source `{item.source_id}`. "
                          "Leave source_id out or use that source's key.", type_="https://leadflow.dev/problems/wrong-source")
        if target:
            item.source_id = target
    if target:
        take_rate_limit(request, await source_or_404(request, target))


@router.post(
    "/touchpoints", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted, responses=PROBLEM_RESPONSES,
    summary="Record one touchpoint",
    description="Answers 202 only after Kafka acknowledged the touchpoint (acks=all). With a source's API key "
    "(`lf_...`) the touchpoint is filed under that source (its `source_id`) and counts against its rate limit.",
)
async def record_touchpoint(
    item: TouchpointIn, request: Request, caller: Authenticated, idempotency_key: IdempotencyKey = None,
    traceparent: TraceParent = None,
) -> Accepted:
    await scope_touchpoints(request, caller, [item])
    return await _record_one(request, item, idempotency_key, traceparent)


async def _record_one(request: Request, item: TouchpointIn, idempotency_key: str | None, traceparent: str | None) -> Accepted:
    record = encode_touchpoint(item, event_id_for(item, idempotency_key), utcnow(), request_traceparent(traceparent))
    with structlog.contextvars.bound_contextvars(event_id=record.id):
        await publish_or_503(request, [record])
    return Accepted(event_id=record.id, lead_key=record.lead_key)


@router.post(
    "/touchpoints/batch", status_code=status.HTTP_202_ACCEPTED, response_model=BatchAccepted, responses=PROBLEM_RESPONSES,
    summary="Record up to 500 touchpoints at once",
    description="All or nothing from the client's view: 202 means every touchpoint was acknowledged by Kafka. "
    "On 503 resend the whole batch with the same Idempotency-Key (or per-item event_id) so nothing is counted twice.",
)
async def record_batch(
    batch: BatchIn, request: Request, caller: Authenticated, idempotency_key: IdempotencyKey = None,
    traceparent: TraceParent = None,
) -> BatchAccepted:
    limit = request.app.state.settings.ingest_max_batch_items
    if len(batch.touchpoints) > limit:
        raise Problem(422, f"A batch holds at most {limit} touchpoints; this one has {len(batch.touchpoints)}. Split it.",
                      type_="https://leadflow.dev/problems/validation",
                      errors=[{"in": "body", "field": "touchpoints", "message": f"at most {limit} items"}])
    await scope_touchpoints(request, caller, batch.touchpoints)
    events = encode_batch(batch.touchpoints, idempotency_key, request_traceparent(traceparent))
    await publish_or_503(request, events)
    return BatchAccepted(accepted=len(events), event_ids=[e.id for e in events])


@router.post(
    "/sources/{source_id}/touchpoints", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted,
    responses=PROBLEM_RESPONSES, summary="Record one touchpoint for a source",
    description="Like POST /v1/touchpoints, filed under the source of the path. A key of another source gets 403.",
)
async def record_source_touchpoint(
    source_id: SourceId, item: TouchpointIn, request: Request, caller: Authenticated,
    idempotency_key: IdempotencyKey = None, traceparent: TraceParent = None,
) -> Accepted:
    await scope_touchpoints(request, caller, [item], path_source=source_id)
    return await _record_one(request, item, idempotency_key, traceparent)
