"""Read-side queries of the lead API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import Stage

from leadflow_scoring.adapters.tables import leads, rescore_jobs, score_ledger, stage_history, touchpoints
from leadflow_scoring.domain.explain import HitRecord
from leadflow_scoring.domain.leads import Touchpoint

SUMMARY_COLUMNS = [
    leads.c.lead_id, leads.c.email, leads.c.anonymous_id, leads.c.stage, leads.c.score, leads.c.fit,
    leads.c.engagement, leads.c.profile, leads.c.touchpoint_count, leads.c.model_id, leads.c.model_hash,
    leads.c.created_at, leads.c.updated_at, leads.c.stage_changed_at, leads.c.grade, leads.c.disqualified_reason,
    leads.c.review_at, leads.c.assigned_team, leads.c.assigned_member, leads.c.assigned_at,
]


def _summary(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["lead_id"] = str(out["lead_id"])
    return out


def with_assignment(lead: dict[str, Any]) -> dict[str, Any]:
    """A lead of ``SUMMARY_COLUMNS`` as the API shows it: the assignment as one object, null while nobody has the lead."""
    team, member, at = lead.pop("assigned_team"), lead.pop("assigned_member"), lead.pop("assigned_at")
    lead["assignment"] = {"team": team, "member": member, "assigned_at": at} if team is not None or member is not None else None
    return lead


async def lead_detail(engine: AsyncEngine, lead_id: str) -> dict[str, Any] | None:
    try:
        uuid.UUID(lead_id)
    except ValueError:
        return None
    async with engine.connect() as conn:
        row = (await conn.execute(
            select(*SUMMARY_COLUMNS, leads.c.fit_ledger, leads.c.requalify_at).where(leads.c.lead_id == lead_id)
        )).first()
        if row is None:
            return None
        lead = with_assignment(_summary(row))
        ledger = [{**e, "group": "fit"} for e in row.fit_ledger]
        ledger += [
            dict(r._mapping)
            for r in await conn.execute(
                select(score_ledger.c.rule_id, score_ledger.c.group_name.label("group"), score_ledger.c.points,
                       score_ledger.c.reason, score_ledger.c.touchpoint_id, score_ledger.c.capped, score_ledger.c.occurred_at)
                .where(score_ledger.c.lead_id == lead_id).order_by(score_ledger.c.id)
            )
        ]
        lead.pop("fit_ledger", None)
        lead["ledger"] = ledger
        lead["touchpoints"] = [
            dict(r._mapping)
            for r in await conn.execute(
                select(touchpoints.c.event_id, touchpoints.c.type, touchpoints.c.occurred_at, touchpoints.c.source_id,
                       touchpoints.c.properties)
                .where(touchpoints.c.lead_id == lead_id).order_by(touchpoints.c.occurred_at.desc()).limit(200)
            )
        ]
        lead["stage_history"] = [
            dict(r._mapping)
            for r in await conn.execute(
                select(stage_history.c.event_id, stage_history.c.from_stage, stage_history.c.to_stage, stage_history.c.cause,
                       stage_history.c.reason, stage_history.c.touchpoint_id, stage_history.c.rule_id,
                       stage_history.c.score, stage_history.c.occurred_at, stage_history.c.handover_id,
                       stage_history.c.rejection_reason)
                .where(stage_history.c.lead_id == lead_id).order_by(stage_history.c.id)
            )
        ]
        return lead


async def score_inputs(engine: AsyncEngine, lead_id: str) -> tuple[dict[str, Any], list[HitRecord]] | None:
    """The lead and its stored engagement hits: what ``explain`` needs."""
    try:
        uuid.UUID(lead_id)
    except ValueError:
        return None
    async with engine.connect() as conn:
        row = (await conn.execute(
            select(leads.c.lead_id, leads.c.stage, leads.c.fit_ledger, leads.c.model_id, leads.c.model_hash,
                   leads.c.disqualified_reason, leads.c.review_at).where(leads.c.lead_id == lead_id)
        )).first()
        if row is None:
            return None
        hits = [
            HitRecord(r.rule_id, r.group_name, r.points, r.reason, r.touchpoint_id, r.occurred_at, r.capped)
            for r in await conn.execute(
                select(score_ledger).where(score_ledger.c.lead_id == lead_id).order_by(score_ledger.c.id)
            )
        ]
    return dict(row._mapping), hits


async def histories(engine: AsyncEngine) -> AsyncIterator[tuple[str, Stage, int, list[Touchpoint]]]:
    """Every lead with its touchpoints in the order they were applied, streamed lead by lead."""
    query = (
        select(leads.c.lead_id, leads.c.stage, leads.c.score, leads.c.email, leads.c.anonymous_id,
               touchpoints.c.event_id, touchpoints.c.type, touchpoints.c.occurred_at, touchpoints.c.profile,
               touchpoints.c.properties, touchpoints.c.source_id)
        .join(touchpoints, touchpoints.c.lead_id == leads.c.lead_id)
        .order_by(leads.c.lead_id, touchpoints.c.kafka_partition, touchpoints.c.kafka_offset)
    )
    current: tuple[str, Stage, int] | None = None
    history: list[Touchpoint] = []
    async with engine.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=2000))
        async for row in result:
            lead_id = str(row.lead_id)
            if current is None or current[0] != lead_id:
                if current is not None:
                    yield (*current, history)
                current, history = (lead_id, Stage(row.stage), row.score), []
            history.append(Touchpoint(
                row.event_id, row.type, row.occurred_at, row.email, row.anonymous_id,
                MappingProxyType(row.profile or {}), MappingProxyType(row.properties or {}), row.source_id,
            ))
    if current is not None:
        yield (*current, history)


async def rescore_job(engine: AsyncEngine, job_id: str) -> dict[str, Any] | None:
    try:
        uuid.UUID(job_id)
    except ValueError:
        return None
    async with engine.connect() as conn:
        row = (await conn.execute(select(rescore_jobs).where(rescore_jobs.c.id == job_id))).first()
    if row is None:
        return None
    out = dict(row._mapping)
    out["id"] = str(out["id"])
    return out
