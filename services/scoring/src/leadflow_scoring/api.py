"""The lead read API (HTTP models live here; queries are in ``queries``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import Stage
from leadflow_runtime.problems import Problem

from leadflow_scoring import queries


class LedgerLine(BaseModel):
    rule_id: str
    dimension: str
    points: int
    reason: str
    touchpoint_id: str | None = None
    capped: bool = False
    occurred_at: datetime | None = None


class TouchpointView(BaseModel):
    event_id: str
    type: str
    occurred_at: datetime
    source_id: str | None
    properties: dict[str, Any]


class StageChangeView(BaseModel):
    event_id: str
    from_stage: Stage | None
    to_stage: Stage
    cause: str
    reason: str
    touchpoint_id: str | None
    rule_id: str | None
    score: int
    occurred_at: datetime


class LeadSummary(BaseModel):
    lead_id: str
    email: str | None
    anonymous_id: str | None
    stage: Stage
    score: int
    fit: int
    engagement: int
    profile: dict[str, Any]
    touchpoint_count: int
    model_id: str
    model_hash: str
    created_at: datetime
    updated_at: datetime
    stage_changed_at: datetime


class LeadDetail(LeadSummary):
    ledger: list[LedgerLine]
    touchpoints: list[TouchpointView]
    stage_history: list[StageChangeView]


class LeadPage(BaseModel):
    items: list[LeadSummary]
    next_cursor: str | None


def engine_of(request: Request) -> AsyncEngine:
    return request.app.state.container.engine


EngineDep = Annotated[AsyncEngine, Depends(engine_of)]
router = APIRouter(prefix="/v1", tags=["leads"])


@router.get("/leads/{lead_id}", response_model=LeadDetail, summary="One lead: stage, scores, ledger, touchpoints, stage history")
async def get_lead(lead_id: str, engine: EngineDep) -> LeadDetail:
    found = await queries.lead_detail(engine, lead_id)
    if found is None:
        raise Problem(404, f"No lead with id {lead_id!r}.")
    return LeadDetail.model_validate(found)


@router.get("/leads", response_model=LeadPage, summary="Leads, newest activity first")
async def list_leads(
    engine: EngineDep,
    stage: Stage | None = None,
    email: str | None = Query(default=None, description="Exact e-mail (normalised before lookup)."),
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = Query(default=None, description="`next_cursor` of the previous page."),
) -> LeadPage:
    try:
        items, next_cursor = await queries.lead_page(engine, stage=stage, email=email, limit=limit, cursor=cursor)
    except queries.BadCursor as exc:
        raise Problem(400, str(exc)) from exc
    return LeadPage(items=[LeadSummary.model_validate(i) for i in items], next_cursor=next_cursor)
