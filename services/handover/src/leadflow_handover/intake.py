"""Turns stage events into an assignment, a handover (SQL) and pending deliveries, in the consumer's transaction.

A new handover with an assignee also writes ``leadflow.handover.assigned.v1`` to the outbox, in the
same transaction, so scoring learns who has the lead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import HANDOVER_FEEDBACK_TOPIC, AssignmentReason, LeadStageChanged, Stage, StageCauseKind
from leadflow_runtime import tracing
from leadflow_runtime.consumer import Delivered, call_after_commit, in_consumer_transaction

from leadflow_handover import feedback_events
from leadflow_handover.adapters import destination_store, handover_store
from leadflow_handover.adapters.destination_store import StoredDestination
from leadflow_handover.adapters.tables import deliveries, outbox
from leadflow_handover.assigning import AssignLead, AssignLeads
from leadflow_handover.dispatch import HandedOver
from leadflow_handover.domain.routing import LeadFacts, Routing, normalise_interest
from leadflow_handover.domain.sla import SlaPolicy
from leadflow_handover.feedback_links import FeedbackLinks
from leadflow_handover.handovers import handover_id, policy_for
from leadflow_handover.notification import Assignee, Feedback, build_notification
from leadflow_handover.stage_extras import StageExtras, extras_of

DELIVERY_NAMESPACE = uuid.UUID("6f1f4a4e-4c45-4144-8a46-4c4f57000004")
ASSIGNED_STAGES = frozenset({Stage.SQL})  # the moment sales takes over; an MQL has no owner in sales yet


def delivery_id(stage_event_id: str, destination: str) -> str:
    """Deterministic, so a re-consumed stage event maps to the same delivery (and webhook-id)."""
    return "msg_" + uuid.uuid5(DELIVERY_NAMESPACE, f"{stage_event_id}:{destination}").hex


def lead_facts(change: LeadStageChanged, extras: StageExtras, interest_property: str) -> LeadFacts:
    profile = change.lead.profile
    return LeadFacts(
        country=profile.country.upper() if profile.country else None,
        company_size=profile.company_size,
        product_interest=normalise_interest(extras.properties.get(interest_property)),
    )


@dataclass
class RecordHandovers:
    lead_url: str
    routing: Routing = field(default_factory=Routing)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sla: SlaPolicy = field(default_factory=lambda: SlaPolicy(accept_within=None))
    links: FeedbackLinks = field(default_factory=lambda: FeedbackLinks("http://127.0.0.1:8002"))
    feedback_topic: str = HANDOVER_FEEDBACK_TOPIC  # where assignments are announced
    # Set: new deliveries are written claimed (attempt 1, under a lease of ``lease_seconds``) and handed to this
    # callback once the transaction committed, so the dispatcher sends them without a claim round trip.
    handoff: Callable[[list[HandedOver], dict[str, StoredDestination]], None] | None = None
    lease_seconds: float = 30.0

    def __post_init__(self) -> None:
        self.assign = AssignLeads(self.routing)

    async def __call__(self, conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        now = self.clock()
        targets = await destination_store.load_all(conn)
        remodelled = [d.event.data.lead_id for d in batch if d.event.data.cause.kind == StageCauseKind.MODEL_CHANGED]
        handed_over = await self._already_handed_over(conn, remodelled) if remodelled else set()
        extras = {d.event.id: extras_of(d.record.value) for d in batch}
        assignees = await self.assign(conn, [
            AssignLead(d.event.id, d.event.data.lead_id,
                       lead_facts(d.event.data, extras[d.event.id], self.routing.interest_property),
                       reuse_existing=d.event.data.cause.kind == StageCauseKind.MODEL_CHANGED)
            for d in batch if d.event.data.to_stage in ASSIGNED_STAGES
        ], now)
        feedback = await self._record_handovers(conn, batch, extras, assignees, now)
        handoff = self.handoff if in_consumer_transaction() else None
        lease_until = now + timedelta(seconds=self.lease_seconds)
        rows: list[dict[str, Any]] = []
        for d in batch:
            change: LeadStageChanged = d.event.data
            for target in targets:
                dest = target.config
                if change.to_stage not in dest.stages:
                    continue
                if change.cause.kind == StageCauseKind.MODEL_CHANGED and (change.lead_id, dest.name) in handed_over:
                    continue  # a model change never hands the same lead to the same place twice
                did = delivery_id(d.event.id, dest.name)
                body = build_notification(did, d.event.id, change, self.lead_url, extras[d.event.id], assignees.get(d.event.id),
                                          feedback.get(d.event.id))
                row = {
                    "id": did, "stage_event_id": d.event.id, "lead_id": change.lead_id, "destination": dest.name,
                    "status": "pending", "payload": body.model_dump(mode="json"), "qualified_at": change.occurred_at,
                    "traceparent": _traceparent(d), "last_error": None,  # every row has the same keys: one INSERT
                    "attempts": 0, "next_attempt_at": now,
                }
                if not target.enabled:
                    row |= {"status": "disabled", "last_error": f"not sent: the destination is disabled ({target.disabled_reason})"}
                elif handoff is not None:
                    row |= {"attempts": 1, "next_attempt_at": lease_until}
                rows.append(row)
        if not rows:
            return
        inserted = await conn.execute(
            insert(deliveries).values(rows).on_conflict_do_nothing(index_elements=[deliveries.c.id])
            .returning(deliveries.c.id, deliveries.c.seq, deliveries.c.payload)  # the payload as stored, as a retry sends it
        )
        if handoff is None:
            return
        stored = {r.id: r for r in inserted}  # a re-consumed stage event inserts nothing: nothing to hand over
        handed = [
            HandedOver(id=row["id"], lead_id=str(row["lead_id"]), destination=row["destination"],
                       payload=stored[row["id"]].payload, qualified_at=row["qualified_at"], traceparent=row["traceparent"],
                       seq=stored[row["id"]].seq)
            for row in rows if row["id"] in stored and row["attempts"] == 1
        ]
        if handed:
            by_name = {target.config.name: target for target in targets}
            call_after_commit(lambda: handoff(handed, by_name))

    async def _record_handovers(
        self, conn: AsyncConnection, batch: Sequence[Delivered], extras: dict[str, StageExtras],
        assignees: dict[str, Assignee], now: datetime,
    ) -> dict[str, Feedback]:
        """One handover per stage change to SQL, with its acceptance deadline; returns the ``feedback`` of each."""
        qualified = [d for d in batch if d.event.data.to_stage in ASSIGNED_STAGES]
        if not qualified:
            return {}
        remodelled = [d.event.data.lead_id for d in qualified if d.event.data.cause.kind == StageCauseKind.MODEL_CHANGED]
        with_sales = await handover_store.leads_with_handovers(conn, remodelled) if remodelled else set()
        rows, out = [], {}
        for d in qualified:
            change: LeadStageChanged = d.event.data
            if change.cause.kind == StageCauseKind.MODEL_CHANGED and change.lead_id in with_sales:
                continue  # a model change never hands the same lead over twice
            assignee = assignees.get(d.event.id)
            team, member = (assignee.team, assignee.member_id) if assignee else (None, None)
            policy = policy_for(self.sla, self.routing, team)
            hid = handover_id(d.event.id)
            deadline = policy.deadline(now)
            out[d.event.id] = block = self.links.block(hid, member, deadline, now)
            document = build_notification(hid, d.event.id, change, self.lead_url, extras[d.event.id], assignee, block)
            rows.append({
                "id": hid, "stage_event_id": d.event.id, "lead_id": change.lead_id, "status": "pending", "team": team,
                "member": member, "qualified_at": change.occurred_at, "handed_over_at": now,
                "sla_seconds": policy.accept_within.total_seconds() if policy.accept_within is not None else None,
                "sla_deadline": deadline, "notification": document.model_dump(mode="json"),
            })
        new = await handover_store.insert_new(conn, rows)
        announced = []
        for row in rows:
            assignee = assignees.get(row["stage_event_id"])
            if row["id"] in new and assignee is not None:  # no routing configured: nobody was assigned
                announced.append(feedback_events.assigned(
                    self.feedback_topic, lead_id=row["lead_id"], handover_id=row["id"], stage_event_id=row["stage_event_id"],
                    team=row["team"], member=row["member"], rule=assignee.rule, at=now, reason=AssignmentReason.ROUTING,
                ))
        if announced:
            await conn.execute(insert(outbox), announced)
        return out

    @staticmethod
    async def _already_handed_over(conn: AsyncConnection, lead_ids: list[str]) -> set[tuple[str, str]]:
        rows = await conn.execute(
            select(deliveries.c.lead_id, deliveries.c.destination).where(deliveries.c.lead_id.in_(lead_ids))
        )
        return {(str(r.lead_id), r.destination) for r in rows}


def _traceparent(d: Delivered) -> str | None:
    """The stage event's trace context: the CloudEvents extension, else the record header."""
    value = getattr(d.event, "traceparent", None) or tracing.header_value(d.record.headers)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value if tracing.parse(value) is not None else None
