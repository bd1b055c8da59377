"""Assigns sales-qualified leads to a team member, inside the stage consumer's transaction.

Routing picks the team (pure), the team's rotation row is locked, the assignment is decided
(pure) and recorded with the stage event's id - so a re-consumed event keeps its assignee
and the rotation moves exactly once per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_handover.adapters import assignment_store as store
from leadflow_handover.domain.assignment import PastAssignment, Rotation, assign, window_days
from leadflow_handover.domain.routing import LeadFacts, Route, Routing, route
from leadflow_handover.notification import Assignee

ASSIGNMENTS = Counter(
    "leadflow_handover_assignments_total", "Leads assigned, by team and outcome (assigned, kept_owner, unavailable, unrouted).",
    ["team", "outcome"],
)


@dataclass(frozen=True)
class AssignLead:
    stage_event_id: str
    lead_id: str
    facts: LeadFacts
    reuse_existing: bool = False  # a model change: the lead keeps the assignee it already has, nothing new is recorded


class AssignLeads:
    def __init__(self, routing: Routing) -> None:
        self.routing = routing

    async def __call__(self, conn: AsyncConnection, commands: Sequence[AssignLead], now: datetime) -> dict[str, Assignee]:
        if not commands or not self.routing.enabled:
            return {}
        done = await store.for_events(conn, [c.stage_event_id for c in commands])
        previous = await store.latest_for_leads(conn, sorted({c.lead_id for c in commands}))
        routes: dict[str, Route | None] = {
            c.stage_event_id: route(self.routing.rules, c.facts) for c in commands if c.stage_event_id not in done
        }
        rotations = await store.lock_rotations(conn, [r.team for r in routes.values() if r is not None])
        recent = {team: await self._recent(conn, team, now) for team in rotations}
        touched: dict[str, Rotation] = {}
        rows: list[dict[str, Any]] = []
        out: dict[str, Assignee] = {}
        for c in commands:
            if c.stage_event_id in done:
                out[c.stage_event_id] = self._from_row(done[c.stage_event_id])
                continue
            before = previous.get(c.lead_id)
            if c.reuse_existing and before is not None:
                out[c.stage_event_id] = self._from_row(before)
                continue
            chosen = routes[c.stage_event_id]
            if chosen is None:
                assignee = Assignee(team=None, member_id=None, reason="no routing rule matched the lead")
                ASSIGNMENTS.labels("", "unrouted").inc()
            else:
                team = self.routing.teams[chosen.team]
                decision, rotations[team.name] = assign(
                    team, rotations[team.name], recent[team.name], now, before.member if before is not None else None
                )
                touched[team.name] = rotations[team.name]
                m = decision.member
                if m is not None:
                    recent[team.name].append(PastAssignment(m.id, now))
                outcome = "kept_owner" if decision.kept_owner else "assigned" if m is not None else "unavailable"
                ASSIGNMENTS.labels(team.name, outcome).inc()
                assignee = Assignee(
                    team=team.name, member_id=m.id if m else None, name=m.name if m else None, email=m.email if m else None,
                    owner_ids=dict(m.owner_ids) if m else {}, rule=chosen.rule,
                    reason=f"routing rule {chosen.rule} chose team {team.name}; {decision.reason}",
                )
            out[c.stage_event_id] = assignee
            row = {"stage_event_id": c.stage_event_id, "lead_id": c.lead_id, "team": assignee.team,
                   "member": assignee.member_id, "rule": assignee.rule, "reason": assignee.reason, "assigned_at": now}
            rows.append(row)
            previous[c.lead_id] = _Row(**row)
        await store.save(conn, rows, touched)
        return out

    async def _recent(self, conn: AsyncConnection, team: str, now: datetime) -> list[PastAssignment]:
        days = window_days(self.routing.teams[team])
        return [] if days is None else await store.recent(conn, team, now - timedelta(days=days))

    def _from_row(self, row: Any) -> Assignee:
        team = self.routing.teams.get(row.team) if row.team else None
        member = team.member(row.member) if team else None
        return Assignee(
            team=row.team, member_id=row.member, name=member.name if member else None,
            email=member.email if member else None, owner_ids=dict(member.owner_ids) if member else {},
            rule=row.rule, reason=row.reason,
        )


@dataclass(frozen=True)
class _Row:
    """An assignment made earlier in the same batch, shaped like a stored row."""

    stage_event_id: str
    lead_id: str
    team: str | None
    member: str | None
    rule: str | None
    reason: str
    assigned_at: datetime
