"""Scoring models over HTTP: the active model, validation, and simulation of a draft."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_runtime.problems import Problem

from leadflow_scoring import queries
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.simulation import Simulation
from leadflow_scoring.model_file import ModelFileError, parse_model

router = APIRouter(prefix="/v1/models", tags=["models"])


class DraftModel(BaseModel):
    model: str = Field(description="The draft model file (YAML text).", examples=["id: draft\nthresholds: {mql: 60, sql: 100}\n"])


class ModelView(BaseModel):
    id: str
    hash: str
    thresholds: dict[str, int]
    fit_rules: int
    engagement_rules: int
    fast_tracks: int
    disqualifiers: int
    groups: dict[str, dict[str, Any]]


def _engine(request: Request) -> AsyncEngine:
    return request.app.state.container.engine


def _view(model: ScoringModel) -> ModelView:
    t = model.thresholds
    return ModelView(
        id=model.id, hash=model.hash, thresholds={k: getattr(t, k) for k in t.__slots__},
        fit_rules=len(model.fit_rules), engagement_rules=len(model.engagement_rules), fast_tracks=len(model.fast_tracks),
        disqualifiers=len(model.disqualifiers),
        groups={g.name: {"half_life_days": g.half_life_days, "cap": g.cap} for g in model.groups.values()},
    )


def _parse(draft: DraftModel) -> ScoringModel:
    try:
        return parse_model(draft.model, "draft")
    except ModelFileError as exc:
        errors = [{"in": "body", "field": "model", "message": line} for line in str(exc).splitlines()]
        raise Problem(422, f"The draft model is invalid: {str(exc).splitlines()[0]}",
                      type_="https://leadflow.dev/problems/invalid-model", errors=errors) from exc


@router.get("/active", response_model=ModelView, summary="The model scoring uses now")
async def active(request: Request) -> ModelView:
    return _view(request.app.state.container.model)


@router.post("/validate", response_model=ModelView, summary="Check a draft model; errors name the rule and field")
async def validate(draft: Annotated[DraftModel, Body()]) -> ModelView:
    return _view(_parse(draft))


@router.post(
    "/simulate",
    summary="What a draft model would change, replayed over the stored history (live state is not touched)",
    description="Replays every lead's stored touchpoints with the draft and compares with today: leads per stage "
    "before and after, which leads would become MQL or SQL or drop back, and the score distribution. Leads that "
    "sales already owns (SQL and later) keep their stage.",
)
async def simulate(draft: Annotated[DraftModel, Body()], engine: Annotated[AsyncEngine, Depends(_engine)]) -> dict[str, Any]:
    model = _parse(draft)
    simulation = Simulation(model, datetime.now(UTC))
    async for lead_id, stage, score, history in queries.histories(engine):
        simulation.add(lead_id, stage, score, history)
    return simulation.report()
