"""Assignments and teams over HTTP: who got which lead and why, and each member's load right now."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from leadflow_handover import queries
from leadflow_handover.adapters import assignment_store
from leadflow_handover.deps import ContainerDep, EngineDep
from leadflow_handover.domain.assignment import unavailability, window_days

router = APIRouter(prefix="/v1", tags=["routing"])


class AssignmentView(BaseModel):
    id: int = Field(description="Increasing in the order the assignments were made (under the team's lock).")
    stage_event_id: str
    lead_id: str
    team: str | None
    member: str | None = Field(description="None when nobody in the team was available.")
    rule: str | None
    reason: str
    assigned_at: datetime


class MemberView(BaseModel):
    id: str
    name: str | None
    weight: int
    active: bool
    load: int = Field(description="Leads assigned within the capacity window.")
    capacity: int | None
    capacity_days: float | None
    out_of_office: list[tuple[date, date]]
    available_now: bool
    unavailable_because: str | None


class TeamView(BaseModel):
    name: str
    timezone: str
    keep_owner: bool
    members: list[MemberView]
    routed_by: list[str] = Field(description="Routing rules that send leads to this team, in order.")


@router.get("/assignments", response_model=list[AssignmentView], summary="Assignments, newest first")
async def list_assignments(
    engine: EngineDep, lead_id: str | None = None, team: str | None = None, member: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[AssignmentView]:
    async with engine.connect() as conn:
        rows = await queries.assignment_list(conn, lead_id=lead_id, team=team, member=member, limit=limit)
    return [AssignmentView(**r) for r in rows]


@router.get("/teams", response_model=list[TeamView], summary="Teams from the configuration, with each member's load now")
async def list_teams(engine: EngineDep, container: ContainerDep) -> list[TeamView]:
    routing = container.config.routing
    now = datetime.now(UTC)
    out = []
    async with engine.connect() as conn:
        for team in routing.teams.values():
            recent = await assignment_store.recent(conn, team.name, now - timedelta(days=window_days(team) or 30.0))
            members = []
            for m in team.members:
                cap = team.capacity_of(m)
                since = now - timedelta(days=cap.days if cap else window_days(team) or 30.0)
                why = unavailability(team, m, recent, now)
                members.append(MemberView(
                    id=m.id, name=m.name, weight=m.weight, active=m.active,
                    load=sum(1 for p in recent if p.member == m.id and p.at > since),
                    capacity=cap.leads if cap else None, capacity_days=cap.days if cap else None,
                    out_of_office=[(a.start, a.end) for a in m.absences], available_now=why is None,
                    unavailable_because=why,
                ))
            out.append(TeamView(name=team.name, timezone=team.timezone, keep_owner=team.keep_owner, members=members,
                                routed_by=[r.name for r in routing.rules if r.team == team.name]))
    return out
