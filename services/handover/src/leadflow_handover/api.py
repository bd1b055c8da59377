"""Delivery log and destinations over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_handover.adapters.tables import deliveries, delivery_attempts

router = APIRouter(prefix="/v1", tags=["deliveries"])


class AttemptView(BaseModel):
    attempt: int
    started_at: datetime
    duration_seconds: float
    status_code: int | None
    error: str | None
    verdict: str


class DeliveryView(BaseModel):
    id: str
    lead_id: str
    destination: str
    status: str
    attempts: int
    qualified_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[AttemptView] = []


class DestinationView(BaseModel):
    name: str
    url: str
    stages: list[str]
    secrets: int


def engine_of(request: Request) -> AsyncEngine:
    return request.app.state.container.engine


EngineDep = Annotated[AsyncEngine, Depends(engine_of)]


@router.get("/deliveries", response_model=list[DeliveryView], summary="Deliveries with their attempts, newest first")
async def list_deliveries(
    engine: EngineDep,
    lead_id: str | None = None,
    destination: str | None = None,
    status: str | None = Query(default=None, pattern="^(pending|succeeded|failed|disabled)$"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[DeliveryView]:
    query = select(deliveries).order_by(deliveries.c.created_at.desc()).limit(limit)
    if lead_id:
        query = query.where(deliveries.c.lead_id == lead_id)
    if destination:
        query = query.where(deliveries.c.destination == destination)
    if status:
        query = query.where(deliveries.c.status == status)
    async with engine.connect() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(query)]
        ids = [r["id"] for r in rows]
        attempts: dict[str, list[dict[str, Any]]] = {}
        if ids:
            for a in await conn.execute(
                select(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(ids)).order_by(delivery_attempts.c.attempt)
            ):
                attempts.setdefault(a.delivery_id, []).append(dict(a._mapping))
    return [DeliveryView(**{**r, "lead_id": str(r["lead_id"]), "attempt_log": attempts.get(r["id"], [])}) for r in rows]


@router.get("/destinations", response_model=list[DestinationView], summary="Configured destinations (secrets are never shown)")
async def list_destinations(request: Request) -> list[DestinationView]:
    return [
        DestinationView(name=d.name, url=d.url, stages=[s.value for s in d.stages], secrets=len(d.secrets))
        for d in request.app.state.container.settings.handover_destinations
    ]
