"""Reads and writes lead state in bulk: one SELECT per batch, one upsert and one insert per table (``unnest``)."""

from __future__ import annotations

from collections.abc import Coroutine, Iterable, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import Stage
from leadflow_runtime.bulk import BulkInsert, driver_connection

from leadflow_scoring.adapters.tables import leads, score_ledger, stage_history, touchpoints
from leadflow_scoring.domain.leads import LeadState, LedgerEntry
from leadflow_scoring.domain.model import ScoringModel


def row_to_state(row: Any) -> LeadState:
    """A ``leads`` row (a SQLAlchemy ``Row`` or an asyncpg ``Record``) as the domain's lead state."""
    r = row._mapping if hasattr(row, "_mapping") else row
    groups = r["groups"]
    recent = r["recent_hits"]
    return LeadState(
        lead_id=str(r["lead_id"]),
        lead_key=r["lead_key"],
        email=r["email"],
        anonymous_id=r["anonymous_id"],
        stage=Stage(r["stage"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        stage_changed_at=r["stage_changed_at"],
        profile=MappingProxyType(r["profile"] or {}),
        engagement=r["engagement"],
        fit=r["fit"],
        groups=MappingProxyType({g: (v, datetime.fromisoformat(ref)) for g, (v, ref) in groups.items()} if groups else {}),
        rule_hits=MappingProxyType(r["rule_hits"] or {}),
        recent_hits=MappingProxyType(
            {k: tuple(datetime.fromisoformat(t) for t in ts) for k, ts in recent.items()} if recent else {}),
        disqualified_reason=r["disqualified_reason"],
        review_at=r["review_at"],
        requalify_at=r["requalify_at"],
        rule_points=MappingProxyType(r["rule_points"] or {}),
        touchpoint_count=r["touchpoint_count"],
        fit_ledger=tuple(LedgerEntry(**e) for e in (r["fit_ledger"] or ())),
    )


# One statement text whatever the number of keys (an IN list of n values is a new statement for every n).
LOAD_LEADS = "SELECT * FROM scoring.leads WHERE lead_key = ANY($1::text[]) ORDER BY lead_key FOR UPDATE"


async def load_leads(conn: AsyncConnection, lead_keys: Iterable[str]) -> dict[str, LeadState]:
    """Load and lock the leads (the decay sweep skips locked rows, so it never waits on us)."""
    keys = sorted(set(lead_keys))
    if not keys:
        return {}
    rows = await (await driver_connection(conn)).fetch(LOAD_LEADS, keys)
    return {row["lead_key"]: row_to_state(row) for row in rows}


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
    """JSON columns are left as mappings, tuples and datetimes: the bulk writer encodes them (datetimes as
    ``isoformat`` writes them, which ``row_to_state`` reads back)."""
    return {
        "lead_id": state.lead_id,
        "lead_key": state.lead_key,
        "email": state.email,
        "anonymous_id": state.anonymous_id,
        "stage": state.stage.value,
        "score": state.fit + state.engagement,
        "fit": state.fit,
        "engagement": state.engagement,
        "profile": state.profile,
        "groups": state.groups,
        "rule_hits": state.rule_hits,
        "recent_hits": state.recent_hits,
        "grade": model.grades.grade(state.fit, state.engagement),
        "disqualified_reason": state.disqualified_reason,
        "review_at": state.review_at,
        "requalify_at": state.requalify_at,
        "objected_at": state.stage_changed_at if state.stage is Stage.OBJECTED else None,
        "rule_points": state.rule_points,
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


LEAD_COLUMNS = (
    "lead_id", "lead_key", "email", "anonymous_id", "stage", "score", "fit", "engagement", "profile", "groups",
    "rule_hits", "recent_hits", "grade", "disqualified_reason", "review_at", "requalify_at", "objected_at",
    "rule_points", "fit_ledger", "touchpoint_count", "model_id", "model_hash", "created_at", "updated_at",
    "stage_changed_at",
)
LEAD_UPSERT = BulkInsert(
    leads, LEAD_COLUMNS, upsert_key="lead_id", update=[c for c in LEAD_COLUMNS if c not in NOT_SCORING_STATE],
    extra_set={"row_updated_at": "now()"},
)
TOUCHPOINT_INSERT = BulkInsert(
    touchpoints,
    ("event_id", "lead_id", "type", "occurred_at", "received_at", "source_id", "profile", "properties",
     "kafka_partition", "kafka_offset"),
    tail='ON CONFLICT ("event_id") DO NOTHING RETURNING event_id',
)
LEDGER_INSERT = BulkInsert(
    score_ledger,
    ("lead_id", "touchpoint_id", "rule_id", "group_name", "points", "reason", "capped", "model_hash", "occurred_at"),
)
# One statement per batch: the funnel aggregates are folded by a statement-level trigger on stage_history.
STAGE_HISTORY_INSERT = BulkInsert(
    stage_history,
    ("event_id", "lead_id", "from_stage", "to_stage", "cause", "reason", "touchpoint_id", "rule_id", "score", "fit",
     "engagement", "model_hash", "occurred_at", "handover_id", "rejection_reason"),
    tail='ON CONFLICT ("event_id") DO NOTHING',
)


def lead_records(states: Iterable[LeadState], model: ScoringModel) -> list[tuple[Any, ...]]:
    """Leads as ``LEAD_UPSERT`` records (for ``stage``)."""
    return LEAD_UPSERT.records([_state_to_row(s, model) for s in states])


def ledger_record(lead_id: str, entry: LedgerEntry, model_hash: str, occurred_at: datetime) -> tuple[Any, ...]:
    """One ledger line as a ``LEDGER_INSERT`` record (for ``COPY``)."""
    return (lead_id, entry.touchpoint_id, entry.rule_id, entry.dimension, entry.points, entry.reason, entry.capped,
            model_hash, occurred_at)


async def stage_touchpoints(conn: AsyncConnection, records: Sequence[tuple[Any, ...]]) -> Coroutine[Any, Any, set[str]]:
    """Get a batch's touchpoints (``TOUCHPOINT_INSERT`` records) ready; returns the statement, to await or to run
    ``in_flight``, that stores those not seen before and answers their ids (the others are duplicates)."""
    return _new_ids(await TOUCHPOINT_INSERT.load(await driver_connection(conn), records, fetch=True) if records else None)


async def _new_ids(statement: Coroutine[Any, Any, list[Any]] | None) -> set[str]:
    return {r["event_id"] for r in await statement} if statement is not None else set()


async def insert_new_touchpoints(conn: AsyncConnection, records: Sequence[tuple[Any, ...]]) -> set[str]:
    """Insert touchpoints not seen before; return the ids that were new (duplicates are dropped)."""
    return await (await stage_touchpoints(conn, records))


async def insert_ledger(conn: AsyncConnection, records: Sequence[tuple[Any, ...]]) -> None:
    await LEDGER_INSERT.copy(conn, records)


async def insert_stage_history(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await STAGE_HISTORY_INSERT.execute(conn, rows)
