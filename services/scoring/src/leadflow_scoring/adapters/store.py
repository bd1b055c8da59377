"""Reads and writes lead state in bulk: one SELECT per batch, one multi-row upsert, bulk inserts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import Stage

from leadflow_scoring.adapters.tables import leads, score_ledger, stage_history, touchpoints
from leadflow_scoring.domain.leads import LeadState, LedgerEntry
from leadflow_scoring.domain.model import ScoringModel


def row_to_state(row: Any) -> LeadState:
    return LeadState(
        lead_id=str(row.lead_id),
        lead_key=row.lead_key,
        email=row.email,
        anonymous_id=row.anonymous_id,
        stage=Stage(row.stage),
        created_at=row.created_at,
        updated_at=row.updated_at,
        stage_changed_at=row.stage_changed_at,
        profile=MappingProxyType(row.profile or {}),
        engagement=row.engagement,
        fit=row.fit,
        groups=MappingProxyType({g: (v, datetime.fromisoformat(ref)) for g, (v, ref) in (row.groups or {}).items()}),
        rule_hits=MappingProxyType(row.rule_hits or {}),
        recent_hits=MappingProxyType({r: tuple(datetime.fromisoformat(t) for t in ts) for r, ts in (row.recent_hits or {}).items()}),
        disqualified_reason=row.disqualified_reason,
        review_at=row.review_at,
        requalify_at=row.requalify_at,
        rule_points=MappingProxyType(row.rule_points or {}),
        touchpoint_count=row.touchpoint_count,
        fit_ledger=tuple(LedgerEntry(**e) for e in (row.fit_ledger or [])),
    )


async def load_leads(conn: AsyncConnection, lead_keys: Iterable[str]) -> dict[str, LeadState]:
    """Load and lock the leads (the decay sweep skips locked rows, so it never waits on us)."""
    keys = sorted(set(lead_keys))
    if not keys:
        return {}
    rows = await conn.execute(select(leads).where(leads.c.lead_key.in_(keys)).order_by(leads.c.lead_key).with_for_update())
    return {row.lead_key: row_to_state(row) for row in rows}


async def claim_due_reviews(conn: AsyncConnection, now: datetime, limit: int) -> list[LeadState]:
    """MQLs whose decay review time has come, locked; rows a worker holds are skipped."""
    rows = await conn.execute(
        select(leads)
        .where(leads.c.review_at.is_not(None), leads.c.review_at <= now)
        .order_by(leads.c.review_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [row_to_state(row) for row in rows]


def _state_to_row(state: LeadState, model: ScoringModel) -> dict[str, Any]:
    return {
        "lead_id": state.lead_id,
        "lead_key": state.lead_key,
        "email": state.email,
        "anonymous_id": state.anonymous_id,
        "stage": state.stage.value,
        "score": state.score,
        "fit": state.fit,
        "engagement": state.engagement,
        "profile": dict(state.profile),
        "groups": {g: [v, ref.isoformat()] for g, (v, ref) in state.groups.items()},
        "rule_hits": dict(state.rule_hits),
        "recent_hits": {r: [t.isoformat() for t in ts] for r, ts in state.recent_hits.items()},
        "grade": model.grades.grade(state.fit, state.engagement),
        "disqualified_reason": state.disqualified_reason,
        "review_at": state.review_at,
        "requalify_at": state.requalify_at,
        "objected_at": state.stage_changed_at if state.stage is Stage.OBJECTED else None,
        "rule_points": dict(state.rule_points),
        "fit_ledger": [
            {"rule_id": e.rule_id, "dimension": e.dimension, "points": e.points, "reason": e.reason} for e in state.fit_ledger
        ],
        "touchpoint_count": state.touchpoint_count,
        "model_id": model.id,
        "model_hash": model.hash,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "stage_changed_at": state.stage_changed_at,
    }


# Who in sales has the lead is handover's news (``assignments``), not scoring state: scoring never overwrites it.
NOT_SCORING_STATE = ("lead_id", "lead_key", "created_at", "row_updated_at", "assigned_team", "assigned_member", "assigned_at")


def _lead_upsert() -> Any:
    stmt = insert(leads)
    excluded = stmt.excluded
    updatable = [c.name for c in leads.columns if c.name not in NOT_SCORING_STATE]
    return stmt.on_conflict_do_update(
        index_elements=[leads.c.lead_id],
        set_={**{name: excluded[name] for name in updatable}, "row_updated_at": func.now()},
    )


# Built once and executed with a list of rows: SQLAlchemy compiles each statement once and
# batches the rows itself ("insertmanyvalues"); a fresh multi-row ``.values(rows)`` per batch
# spent most of the scoring worker's CPU compiling SQL.
LEAD_UPSERT = _lead_upsert()
TOUCHPOINT_INSERT = (
    insert(touchpoints).on_conflict_do_nothing(index_elements=[touchpoints.c.event_id]).returning(touchpoints.c.event_id)
)


async def upsert_leads(conn: AsyncConnection, states: Sequence[LeadState], model: ScoringModel) -> None:
    if states:
        await conn.execute(LEAD_UPSERT, [_state_to_row(s, model) for s in states])


async def insert_new_touchpoints(conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert touchpoints not seen before; return the ids that were new (duplicates are dropped)."""
    if not rows:
        return set()
    result = await conn.execute(TOUCHPOINT_INSERT, rows)
    return set(result.scalars().all())


async def insert_ledger(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(score_ledger), rows)


# RETURNING makes SQLAlchemy send the rows as one multi-row INSERT per 1,000 rather than one statement
# per row: the funnel aggregates are folded by a statement-level trigger, which then runs once per batch.
STAGE_HISTORY_INSERT = (
    insert(stage_history).on_conflict_do_nothing(index_elements=[stage_history.c.event_id]).returning(stage_history.c.event_id)
)


async def insert_stage_history(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(STAGE_HISTORY_INSERT, rows)
