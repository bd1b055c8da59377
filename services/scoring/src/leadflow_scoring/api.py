"""The lead read API (HTTP models live here; queries are in ``queries``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import Stage
from leadflow_runtime.problems import Problem

from leadflow_scoring import lead_search, queries
from leadflow_scoring.domain.explain import explain
from leadflow_scoring.domain.leads import LedgerEntry


class LedgerLine(BaseModel):
    rule_id: str
    group: str
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
    handover_id: str | None = Field(default=None, description="Cause `sales_feedback`: the handover sales answered.")
    rejection_reason: str | None = Field(default=None, description="A lead sales sent back: why (procedural, not_now, ...).")


class AssignmentView(BaseModel):
    """Who in sales has the lead: the latest assignment the handover service announced."""

    team: str | None = Field(description="The sales team (as named in handover's routing file).", examples=["enterprise-dach"])
    member: str | None = Field(
        description="The team member's id; null when nobody in the team was available.", examples=["anna"],
    )
    assigned_at: datetime = Field(description="When handover assigned the lead to them (or reassigned it, after a missed deadline).")


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
    grade: str = Field(description="Fit A..D and engagement 1..3, e.g. `B2`.")
    disqualified_reason: str | None
    review_at: datetime | None = Field(description="When decay will recycle this MQL unless it engages again.")
    model_id: str
    model_hash: str
    created_at: datetime
    updated_at: datetime
    stage_changed_at: datetime
    assignment: AssignmentView | None = Field(
        default=None, description="Who in sales has the lead; null until the handover service assigned it (it does when the "
        "lead becomes SQL and routing is configured). Filter with `team` and `rep`.",
    )


class LeadDetail(LeadSummary):
    requalify_at: int | None = Field(
        default=None, description="Set while sales has sent the lead back: the score at which it qualifies again."
    )
    ledger: list[LedgerLine]
    touchpoints: list[TouchpointView]
    stage_history: list[StageChangeView]


class LeadPage(BaseModel):
    items: list[LeadSummary]
    next_cursor: str | None


class ScoreLine(BaseModel):
    kind: str = Field(description="`fit`, `engagement`, or `cap` (points cut by a group cap).")
    rule_id: str
    group: str
    reason: str
    raw_points: int = Field(description="Points when the rule hit.")
    value_now: int = Field(description="What the hit is worth now, after decay; the lines add up to `score`.")
    decayed_by: int
    touchpoint_id: str | None = None
    occurred_at: datetime | None = None


class ScoreView(BaseModel):
    lead_id: str
    at: datetime
    stage: Stage
    score: int
    fit: int
    engagement: int
    grade: str
    disqualified_reason: str | None
    review_at: datetime | None
    model_id: str
    model_hash: str
    ledger: list[ScoreLine]


def engine_of(request: Request) -> AsyncEngine:
    return request.app.state.container.engine


EngineDep = Annotated[AsyncEngine, Depends(engine_of)]
Name = Annotated[str, Field(max_length=128)]
router = APIRouter(prefix="/v1", tags=["leads"])


@router.get("/leads/{lead_id}", response_model=LeadDetail, summary="One lead: stage, scores, ledger, touchpoints, stage history")
async def get_lead(lead_id: str, engine: EngineDep) -> LeadDetail:
    found = await queries.lead_detail(engine, lead_id)
    if found is None:
        raise Problem(404, f"No lead with id {lead_id!r}.")
    return LeadDetail.model_validate(found)


@router.get(
    "/leads", response_model=LeadPage, summary="Leads: filter, sort, page",
    description="Filters combine with AND; a repeated filter matches any of its values. Paging is by keyset: pass "
    "`next_cursor` back with the same `sort` and `order`. `team` and `rep` filter on the assignment the handover "
    "service announces (`leadflow.handover.assigned.v1`) when a lead becomes SQL and whenever it is reassigned.",
)
async def list_leads(
    engine: EngineDep,
    stage: list[Stage] | None = Query(default=None, description="Current stage; repeat for several."),
    grade: list[str] | None = Query(default=None, description="Grade `B2`, or a fit letter `B` for B1-B3; repeat for several."),
    score_min: int | None = Query(default=None, description="Lowest score (inclusive)."),
    score_max: int | None = Query(default=None, description="Highest score (inclusive)."),
    source: str | None = Query(default=None, max_length=128, description="Leads with at least one touchpoint from this source id."),
    updated_since: datetime | None = Query(default=None, description="Leads with activity at or after this time (RFC 3339, with offset)."),
    q: str | None = Query(default=None, max_length=200, description="Words that must all appear in name, e-mail or company (at least one of 3+ characters)."),
    email: str | None = Query(default=None, description="Exact e-mail (normalised before lookup)."),
    team: list[Name] | None = Query(
        default=None, max_length=20, description="Leads assigned to this sales team (its name in handover's routing file); "
        "repeat for several.", openapi_examples={"one team": {"value": ["enterprise-dach"]}},
    ),
    rep: list[Name] | None = Query(
        default=None, max_length=20, description="Leads assigned to this team member (the member id in handover's routing "
        "file); repeat for several.", openapi_examples={"one rep": {"value": ["anna"]}},
    ),
    sort: lead_search.SortKey = Query(default=lead_search.SortKey.UPDATED_AT, description="`updated_at`, `score` or `created_at`."),
    order: lead_search.SortOrder = Query(default=lead_search.SortOrder.DESC),
    limit: int = Query(default=50, ge=1, le=500),
    cursor: str | None = Query(default=None, description="`next_cursor` of the previous page."),
) -> LeadPage:
    if updated_since is not None and updated_since.tzinfo is None:
        raise Problem(422, "`updated_since` needs a time zone offset, e.g. 2026-11-27T10:00:00Z.",
                      errors=[{"in": "query", "field": "updated_since", "message": "time zone offset missing"}])
    try:
        found = lead_search.LeadFilter(
            stages=tuple(stage or ()), grades=lead_search.expand_grades(grade), score_min=score_min, score_max=score_max,
            source=source or None, updated_since=updated_since, text=q, email=email,
            teams=_values(team), reps=_values(rep),
        )
        items, next_cursor = await lead_search.lead_page(engine, found, sort=sort, order=order, limit=limit, cursor=cursor)
    except lead_search.BadCursor as exc:
        raise Problem(400, str(exc)) from exc
    except lead_search.BadSearch as exc:
        raise Problem(422, str(exc)) from exc
    return LeadPage(items=[LeadSummary.model_validate(i) for i in items], next_cursor=next_cursor)


def _values(given: list[str] | None) -> tuple[str, ...]:
    """The non-empty values of a repeatable filter, once each (an empty `team=` from a form means no filter)."""
    return tuple(dict.fromkeys(v.strip() for v in given or () if v.strip()))


@router.get("/leads/{lead_id}/score", response_model=ScoreView,
            summary="Why the lead has its score: fit, engagement, grade and a ledger that sums to the score")
async def get_score(
    lead_id: str, engine: EngineDep, request: Request,
    at: datetime | None = Query(default=None, description="Evaluate at this time (RFC 3339); now when omitted."),
) -> ScoreView:
    found = await queries.score_inputs(engine, lead_id)
    if found is None:
        raise Problem(404, f"No lead with id {lead_id!r}.")
    lead, hits = found
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        raise Problem(422, "`at` needs a time zone offset, e.g. 2026-11-27T10:00:00Z.")
    fit_ledger = [LedgerEntry(e["rule_id"], "fit", e["points"], e["reason"]) for e in lead["fit_ledger"]]
    model = request.app.state.container.model
    explained = explain(hits, fit_ledger, model, when)
    return ScoreView(
        lead_id=str(lead["lead_id"]), at=when, stage=lead["stage"], score=explained.score, fit=explained.fit,
        engagement=explained.engagement, grade=explained.grade, disqualified_reason=lead["disqualified_reason"],
        review_at=lead["review_at"], model_id=model.id, model_hash=model.hash,
        ledger=[ScoreLine.model_validate(line, from_attributes=True) for line in explained.lines],
    )
