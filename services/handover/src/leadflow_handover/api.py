"""The delivery log over HTTP: every delivery and attempt, page by page, and replays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from leadflow_runtime.problems import Problem

from leadflow_handover import queries, replays
from leadflow_handover.deps import AdminDep, ContainerDep, EngineDep

router = APIRouter(prefix="/v1", tags=["deliveries"])
STATUS_PATTERN = "^(pending|succeeded|failed|disabled|cancelled)$"


class AttemptView(BaseModel):
    attempt: int
    started_at: datetime
    duration_seconds: float
    status_code: int | None
    error: str | None
    verdict: str


class DeliveryView(BaseModel):
    id: str = Field(description="Also the webhook-id: the same on every retry and replay.")
    lead_id: str
    destination: str
    status: str = Field(description="pending | succeeded | failed | disabled | cancelled")
    attempts: int
    qualified_at: datetime
    created_at: datetime
    delivered_at: datetime | None = Field(description="The first successful delivery.")
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    replays: int = 0
    last_replayed_at: datetime | None = None
    attempt_log: list[AttemptView] = []


class DeliveryDetail(DeliveryView):
    payload: dict[str, Any] = Field(description="The leadflow.handover.v1 notification (empty once the lead was erased).")


@router.get(
    "/deliveries", response_model=list[DeliveryView], summary="Deliveries with their attempts, newest first",
    description="Pages: when more deliveries match, the response carries a `Link: <...>; rel=\"next\"` header and "
    "`Leadflow-Next-Cursor`; pass the cursor back as `cursor`.",
)
async def list_deliveries(
    request: Request,
    response: Response,
    engine: EngineDep,
    lead_id: str | None = None,
    destination: str | None = None,
    status: str | None = Query(default=None, pattern=STATUS_PATTERN),
    limit: int = Query(default=100, ge=1, le=1000),
    cursor: str | None = Query(default=None, description="From the previous page's `Leadflow-Next-Cursor`."),
) -> list[DeliveryView]:
    try:
        async with engine.connect() as conn:
            rows, next_cursor = await queries.delivery_page(
                conn, queries.DeliveryFilter(lead_id, destination, status), limit, cursor
            )
    except queries.BadCursor as exc:
        raise Problem(400, f"{exc}; start again without `cursor`.") from None
    if next_cursor:
        response.headers["Leadflow-Next-Cursor"] = next_cursor
        response.headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
    return [DeliveryView(**r) for r in rows]


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail, summary="One delivery, what was sent, and its attempts")
async def get_delivery(delivery_id: str, engine: EngineDep) -> DeliveryDetail:
    async with engine.connect() as conn:
        found = await queries.delivery(conn, delivery_id)
    if found is None:
        raise Problem(404, f"No delivery with id {delivery_id!r}.")
    return DeliveryDetail(**found)


@router.post(
    "/deliveries/{delivery_id}/replay", response_model=DeliveryView, status_code=202,
    summary="Send a delivery again, with the same webhook-id",
    description="The delivery becomes pending and due now; its retry schedule starts over and, for CRMs, every step "
    "is done again. Refused (409) while it is pending, when it was cancelled for privacy, or while its destination "
    "is disabled. Needs the admin key.",
)
async def replay(delivery_id: str, _: AdminDep, engine: EngineDep, container: ContainerDep) -> DeliveryView:
    try:
        async with engine.begin() as conn:
            await replays.replay_delivery(conn, delivery_id)
    except replays.ReplayRefused as exc:
        raise Problem(exc.status, exc.detail) from None
    if container.dispatcher is not None:
        container.dispatcher.wake()
    async with engine.connect() as conn:
        found = await queries.delivery(conn, delivery_id)
    assert found is not None
    return DeliveryView(**found)
