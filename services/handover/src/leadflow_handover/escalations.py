"""Escalates handovers nobody accepted before their deadline: once per deadline, with several instances running.

Each round claims overdue handovers ``FOR UPDATE SKIP LOCKED`` and, in the same transaction,
records the escalation, queues a message to the escalation destination, optionally gives the
lead to the next member of the team's round-robin (recorded as an assignment, with a
message to the new owner through the lead's usual destinations), moves or clears the
deadline, and writes ``leadflow.handover.sla_breached.v1`` - and, for a reassignment,
``leadflow.handover.assigned.v1`` - to the outbox. A handover whose
deadline moved or was cleared is not overdue any more, so no deadline is escalated twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_events import AssignmentReason, Stage
from leadflow_runtime.health import Heartbeat
from leadflow_runtime.lifecycle import BatchedJob
from leadflow_runtime.logs import get_logger

from leadflow_handover import feedback_events
from leadflow_handover.adapters import assignment_store, destination_store, handover_store
from leadflow_handover.adapters.handover_store import escalation_event_id
from leadflow_handover.adapters.tables import deliveries, outbox
from leadflow_handover.domain.assignment import Rotation, assign, window_days
from leadflow_handover.domain.routing import Routing
from leadflow_handover.domain.sla import SlaPolicy, describe, next_deadline
from leadflow_handover.feedback_links import FeedbackLinks
from leadflow_handover.handovers import policy_for
from leadflow_handover.intake import delivery_id
from leadflow_handover.notification import Assignee, Escalation

log = get_logger(__name__)
BREACHES = Counter(
    "leadflow_handover_sla_breaches_total", "Handovers nobody accepted before their deadline (each missed deadline once), by team.",
    ["team"],
)
REASSIGNED = Counter("leadflow_handover_reassignments_total", "Overdue handovers given to another member, by team.", ["team"])


class SlaSweep(BatchedJob):
    def __init__(
        self, *, engine: AsyncEngine, routing: Routing, default: SlaPolicy, links: FeedbackLinks, feedback_topic: str,
        heartbeat: Heartbeat, interval: float, batch: int = 100, after_commit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name="sla-sweep", interval=interval, batch=batch, heartbeat=heartbeat)
        self.engine = engine
        self.routing = routing
        self.default = default
        self.links = links
        self.feedback_topic = feedback_topic
        self.after_commit = after_commit

    async def step(self, now: datetime) -> int:
        return await self.sweep_once(now)

    async def sweep_once(self, now: datetime) -> int:
        breached: list[str] = []
        async with self.engine.begin() as conn:
            rows = await handover_store.claim_overdue(conn, now, self.batch)
            if not rows:
                return 0
            policies = {r.id: policy_for(self.default, self.routing, r.team) for r in rows}
            reassigning = sorted({r.team for r in rows if policies[r.id].reassign and r.team in self.routing.teams})
            rotations = await assignment_store.lock_rotations(conn, reassigning)  # team order: no lock cycles
            targets = await destination_store.load_all(conn)
            for row in rows:
                await self._escalate(conn, row, policies[row.id], rotations, targets, now)
                breached.append(row.team or "")
        for team in breached:
            BREACHES.labels(team).inc()
        if self.after_commit:
            self.after_commit()
        return len(rows)

    async def _escalate(
        self, conn: AsyncConnection, row: Any, policy: SlaPolicy, rotations: dict[str, Rotation], targets: list[Any],
        now: datetime,
    ) -> None:
        number = row.escalations + 1
        within = timedelta(seconds=row.sla_seconds) if row.sla_seconds is not None else row.sla_deadline - row.handed_over_at
        who = f"{row.member} did not accept" if row.member else "nobody accepted"
        missed = f"{who} within {describe(within)} (deadline {row.sla_deadline.isoformat(timespec='seconds')})"
        new_owner = await self._reassign(conn, row, number, rotations, now, missed) if policy.reassign else None
        deadline = next_deadline(policy, now, reassigned=new_owner is not None)
        member = new_owner.member_id if new_owner else row.member
        reason = missed + (f"; reassigned to {member}" if new_owner else "") + (
            f"; escalated to {policy.escalate_to}" if policy.escalate_to else "")
        await handover_store.add_escalation(conn, {
            "handover_id": row.id, "number": number, "deadline": row.sla_deadline, "escalated_at": now,
            "missed_by": row.member, "escalated_to": policy.escalate_to, "reassigned_to": member if new_owner else None,
            "reason": reason,
        })
        await conn.execute(insert(outbox).values(feedback_events.sla_breached(
            self.feedback_topic, row, number, now, policy.escalate_to, member if new_owner else None,
        )))
        if new_owner is not None:
            await conn.execute(insert(outbox).values(feedback_events.assigned(
                self.feedback_topic, lead_id=str(row.lead_id), handover_id=row.id, stage_event_id=row.stage_event_id,
                team=new_owner.team, member=new_owner.member_id, rule=new_owner.rule, at=now,
                reason=AssignmentReason.SLA_REASSIGNMENT, number=number,
            )))
        document = dict(row.notification or {})
        if document:
            escalation = Escalation(kind="sla_missed", number=number, deadline=row.sla_deadline, missed_by=row.member,
                                    reassigned_to=member if new_owner else None, reason=reason)
            document["feedback"] = self.links.block(row.id, member, deadline, now).model_dump(mode="json")
            if new_owner is not None:
                document["assignee"] = new_owner.model_dump(mode="json")
            messages: list[dict[str, Any]] = []
            if policy.escalate_to:
                messages += _deliveries(row, "sla", number, [policy.escalate_to], targets, document, escalation)
            if new_owner is not None:
                wanting = [t.name for t in targets if Stage.SQL in t.config.stages]
                messages += _deliveries(row, "reassign", number, wanting, targets, document,
                                        escalation.model_copy(update={"kind": "reassigned"}))
            if messages:
                await conn.execute(pg_insert(deliveries).values(messages).on_conflict_do_nothing(index_elements=[deliveries.c.id]))
        else:
            log.warning("handover escalated without messages: its notification was wiped", handover_id=row.id)
        await handover_store.change(conn, row.id, {
            "escalations": number, "sla_deadline": deadline, "member": member,
            **({"notification": document} if document and new_owner else {}),  # the next escalation names the new owner
        })
        log.info("handover escalated", handover_id=row.id, lead_id=str(row.lead_id), escalation=number, reason=reason)

    async def _reassign(
        self, conn: AsyncConnection, row: Any, number: int, rotations: dict[str, Rotation], now: datetime, missed: str,
    ) -> Assignee | None:
        team = self.routing.teams.get(row.team) if row.team else None
        if team is None or team.name not in rotations:
            return None
        days = window_days(team)
        recent = [] if days is None else await assignment_store.recent(conn, team.name, now - timedelta(days=days))
        decision, rotations[team.name] = assign(
            team, rotations[team.name], recent, now, exclude=frozenset({row.member} if row.member else ()),
        )
        m = decision.member
        if m is None:
            log.info("overdue handover not reassigned: nobody else is available", handover_id=row.id, reason=decision.reason)
            return None
        REASSIGNED.labels(team.name).inc()
        rule = (dict(row.notification or {}).get("assignee") or {}).get("rule")
        reason = f"reassigned: {missed}; {decision.reason}"
        await assignment_store.save(conn, [{
            "stage_event_id": escalation_event_id(row.stage_event_id, "reassign", number), "lead_id": str(row.lead_id),
            "team": team.name, "member": m.id, "rule": rule, "reason": reason, "assigned_at": now,
        }], {team.name: rotations[team.name]})
        return Assignee(team=team.name, member_id=m.id, name=m.name, email=m.email, owner_ids=dict(m.owner_ids), rule=rule,
                        reason=reason)


def _deliveries(
    row: Any, kind: str, number: int, names: list[str], targets: list[Any], document: dict[str, Any], escalation: Escalation,
) -> list[dict[str, Any]]:
    """Delivery rows of one escalation message to each named destination (a missing one fails with a reason when sent)."""
    enabled = {t.name: t for t in targets}
    event_id = escalation_event_id(row.stage_event_id, kind, number)
    out = []
    for name in names:
        did = delivery_id(event_id, name)
        payload = {**document, "handover_id": did, "escalation": escalation.model_dump(mode="json")}
        target = enabled.get(name)
        disabled = target is not None and not target.enabled
        out.append({
            "id": did, "stage_event_id": event_id, "lead_id": str(row.lead_id), "destination": name,
            "status": "disabled" if disabled else "pending", "payload": payload, "qualified_at": row.qualified_at,
            "traceparent": None,
            "last_error": f"not sent: the destination is disabled ({target.disabled_reason})" if disabled else None,
        })
    return out
