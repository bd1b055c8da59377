"""Assignments and round-robin state in PostgreSQL.

A team's rotation row is locked ``FOR UPDATE`` while its leads are assigned, so several
handover instances share one rotation and one capacity count per team; teams are locked
in name order, so two instances never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_handover.adapters.tables import assignments, team_rotations
from leadflow_handover.domain.assignment import PastAssignment, Rotation


async def for_events(conn: AsyncConnection, stage_event_ids: Sequence[str]) -> dict[str, Any]:
    rows = await conn.execute(select(assignments).where(assignments.c.stage_event_id.in_(list(stage_event_ids))))
    return {r.stage_event_id: r for r in rows}


async def latest_for_leads(conn: AsyncConnection, lead_ids: Sequence[str]) -> dict[str, Any]:
    """The latest assignment of each lead (a lead has a handful at most: one per time it reached SQL)."""
    rows = await conn.execute(
        select(assignments).where(assignments.c.lead_id.in_(list(lead_ids))).order_by(assignments.c.assigned_at, assignments.c.id)
    )
    return {str(r.lead_id): r for r in rows}  # later rows overwrite earlier ones


async def lock_rotations(conn: AsyncConnection, teams: Sequence[str]) -> dict[str, Rotation]:
    ordered = sorted(set(teams))
    if not ordered:
        return {}
    await conn.execute(insert(team_rotations).values([{"team": t} for t in ordered]).on_conflict_do_nothing())
    rows = await conn.execute(
        select(team_rotations.c.team, team_rotations.c.credits)
        .where(team_rotations.c.team.in_(ordered)).order_by(team_rotations.c.team).with_for_update()
    )
    return {r.team: Rotation({k: int(v) for k, v in (r.credits or {}).items()}) for r in rows}


async def recent(conn: AsyncConnection, team: str, since: datetime) -> list[PastAssignment]:
    rows = await conn.execute(
        select(assignments.c.member, assignments.c.assigned_at).where(
            assignments.c.team == team, assignments.c.member.is_not(None), assignments.c.assigned_at > since
        )
    )
    return [PastAssignment(r.member, r.assigned_at) for r in rows]


async def save(conn: AsyncConnection, rows: Sequence[dict[str, Any]], rotations: dict[str, Rotation]) -> None:
    if rows:
        await conn.execute(insert(assignments).values(list(rows)).on_conflict_do_nothing(index_elements=["stage_event_id"]))
    for team, rotation in sorted(rotations.items()):
        await conn.execute(
            update(team_rotations).where(team_rotations.c.team == team).values(credits=dict(rotation.credits), updated_at=func.now())
        )
