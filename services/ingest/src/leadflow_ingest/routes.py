"""``POST /v1/touchpoints`` and ``POST /v1/touchpoints/batch``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, status

from leadflow_runtime.problems import Problem

from leadflow_ingest.auth import Authenticated
from leadflow_ingest.contracts import Accepted, BatchAccepted, BatchIn, TouchpointIn
from leadflow_ingest.publish import KafkaUnavailable, TouchpointPublisher, build_event, event_id_for, utcnow

router = APIRouter(prefix="/v1", tags=["touchpoints"])

PROBLEM_RESPONSES = {
    401: {"description": "Missing or invalid API key (problem details)."},
    413: {"description": "Body too large (problem details)."},
    422: {"description": "Invalid touchpoint; `errors` names each failing field (problem details)."},
    503: {"description": "Kafka did not acknowledge; nothing was accepted. Retry after `Retry-After` seconds."},
}

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=128, description="Resending with the same key records the touchpoint once."),
]
TraceParent = Annotated[str | None, Header(alias="traceparent", max_length=128, include_in_schema=False)]


def _publisher(request: Request) -> TouchpointPublisher:
    return request.app.state.publisher


def _unavailable(request: Request, exc: KafkaUnavailable) -> Problem:
    retry = request.app.state.settings.ingest_retry_after_seconds
    return Problem(
        503, f"The touchpoint was not accepted because Kafka did not acknowledge it ({exc}). Send it again later.",
        type_="https://leadflow.dev/problems/kafka-unavailable", headers={"Retry-After": str(retry)},
    )


@router.post(
    "/touchpoints", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted, responses=PROBLEM_RESPONSES,
    summary="Record one touchpoint",
    description="Answers 202 only after Kafka acknowledged the touchpoint (acks=all).",
)
async def record_touchpoint(
    item: TouchpointIn, request: Request, _: Authenticated, idempotency_key: IdempotencyKey = None,
    traceparent: TraceParent = None,
) -> Accepted:
    event = build_event(item, event_id_for(item, idempotency_key), utcnow(), traceparent)
    try:
        await _publisher(request).publish([event])
    except KafkaUnavailable as exc:
        raise _unavailable(request, exc) from exc
    return Accepted(event_id=event.id, lead_key=event.data.identity.lead_key)


@router.post(
    "/touchpoints/batch", status_code=status.HTTP_202_ACCEPTED, response_model=BatchAccepted, responses=PROBLEM_RESPONSES,
    summary="Record up to 500 touchpoints at once",
    description="All or nothing from the client's view: 202 means every touchpoint was acknowledged by Kafka. "
    "On 503 resend the whole batch with the same Idempotency-Key (or per-item event_id) so nothing is counted twice.",
)
async def record_batch(
    batch: BatchIn, request: Request, _: Authenticated, idempotency_key: IdempotencyKey = None,
    traceparent: TraceParent = None,
) -> BatchAccepted:
    limit = request.app.state.settings.ingest_max_batch_items
    if len(batch.touchpoints) > limit:
        raise Problem(422, f"A batch holds at most {limit} touchpoints; this one has {len(batch.touchpoints)}. Split it.",
                      type_="https://leadflow.dev/problems/validation",
                      errors=[{"in": "body", "field": "touchpoints", "message": f"at most {limit} items"}])
    now = utcnow()
    events = [
        build_event(item, event_id_for(item, idempotency_key, i), now, traceparent) for i, item in enumerate(batch.touchpoints)
    ]
    try:
        await _publisher(request).publish(events)
    except KafkaUnavailable as exc:
        raise _unavailable(request, exc) from exc
    return BatchAccepted(accepted=len(events), event_ids=[e.id for e in events])
