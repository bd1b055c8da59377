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


class ActivationView(BaseModel):
    model: ModelView
    already_active: bool
    job_id: str | None = Field(description="The rescoring job; follow it at /v1/models/jobs/{job_id}.")


class JobView(BaseModel):
    id: str
    model_hash: str
    previous_hash: str | None
    status: str = Field(description="running | done | failed | superseded")
    total: int
    done: int
    changed: int = Field(description="Leads whose stage the new model changed.")
    progress: float
    started_at: datetime
    finished_at: datetime | None


@router.post(
    "/activate", response_model=ActivationView, status_code=202,
    summary="Make a model active and rescore every lead from its history in the background",
    description="Every scoring instance switches to the model in its next transaction. Stage changes the new model "
    "causes are emitted with cause `model_changed`; leads already with sales (SQL and later) keep their stage, so "
    "nobody is handed over twice. Activating the active model again does nothing.",
)
async def activate(draft: Annotated[DraftModel, Body()], request: Request) -> ActivationView:
    model = _parse(draft)
    container = request.app.state.container
    result = await container.registry.activate(container.engine, model, draft.model, datetime.now(UTC))
    if container.rescoring is not None:
        container.rescoring.wake()
    return ActivationView(model=_view(model), already_active=result.already_active, job_id=result.job_id)


@router.get("/jobs/{job_id}", response_model=JobView, summary="Progress of a rescoring job")
async def job(job_id: str, engine: Annotated[AsyncEngine, Depends(_engine)]) -> JobView:
    found = await queries.rescore_job(engine, job_id)
    if found is None:
        raise Problem(404, f"No rescoring job with id {job_id!r}.")
    found["progress"] = round(found["done"] / found["total"], 4) if found["total"] else 1.0
    return JobView.model_validate(found)
