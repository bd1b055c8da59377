"""Applies sales feedback from ``leadflow.handover-feedback`` in the consumer's transaction.

Each event is recorded once (its CloudEvents id is the key of ``handover_feedback``, which the
funnel reads: acceptance times, rejection reasons, missed deadlines); decisions move the lead's
stage through ``domain.feedback`` and leave as stage events through the outbox, like any
other stage change. Feedback about a lead that was erased is dropped; about one that objected,
it is kept without the notes. Assignments, on the same topic, go to ``assignments``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import (
    HANDOVER_ASSIGNED_V1, HANDOVER_FEEDBACK_RECORDED_V1, HANDOVER_SLA_BREACHED_V1, TOUCHPOINT_RECORDED_V1,
    HandoverFeedbackRecorded, Stage,
)
from leadflow_runtime.consumer import BatchHandler, Delivered
from leadflow_runtime.logs import get_logger

from leadflow_scoring.adapters import store
from leadflow_scoring.adapters.tables import handover_feedback, leads
from leadflow_scoring.domain.feedback import SalesFeedback, apply_feedback
from leadflow_scoring.domain.leads import LeadState
from leadflow_scoring.model_registry import ModelRegistry
from leadflow_scoring.writes import Writes

log = get_logger(__name__)
FEEDBACK = Counter(
    "leadflow_sales_feedback_total", "Sales feedback events consumed, by kind and what became of them "
    "(applied: the stage moved; recorded: kept, no stage change; dropped: the lead is gone).", ["kind", "outcome"],
)
FEEDBACK_TYPES = (HANDOVER_FEEDBACK_RECORDED_V1, HANDOVER_SLA_BREACHED_V1)


@dataclass
class ByEventType:
    """Touchpoints, sales feedback and assignments each to their handler, in one transaction (the batch's)."""

    touchpoints: BatchHandler
    feedback: BatchHandler
    assignments: BatchHandler

    async def __call__(self, conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        touchpoints = [d for d in batch if d.event.type == TOUCHPOINT_RECORDED_V1]
        feedback = [d for d in batch if d.event.type in FEEDBACK_TYPES]
        assignments = [d for d in batch if d.event.type == HANDOVER_ASSIGNED_V1]
        if touchpoints:
            await self.touchpoints(conn, touchpoints)
        if feedback:
            await self.feedback(conn, feedback)
        if assignments:
            await self.assignments(conn, assignments)


def _row(d: Delivered, objected: bool) -> dict[str, Any]:
    data = d.event.data
    decision = isinstance(data, HandoverFeedbackRecorded)
    return {
        "event_id": d.event.id, "lead_id": data.lead_id, "handover_id": data.handover_id,
        "kind": data.decision.value if decision else "sla_breached",
        "reason": data.reason.value if decision and data.reason else None,
        "note": data.note if decision and not objected else None,
        "outcome_reason": data.outcome_reason if decision and not objected else None,
        "amount": data.amount if decision else None, "currency": data.currency if decision else None,
        "team": data.team, "member": data.member if decision else data.missed_by, "qualified_at": data.qualified_at,
        "occurred_at": data.decided_at if decision else data.breached_at,
        "sla_breached": data.sla_breached if decision else True,
    }


@dataclass
class ApplyFeedback:
    registry: ModelRegistry
    stage_topic: str

    async def __call__(self, conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        states = await self._lock_leads(conn, sorted({d.event.data.lead_id for d in batch}))
        rows, seen = [], set()
        for d in batch:
            if d.event.id in seen:
                continue
            seen.add(d.event.id)
            lead = states.get(d.event.data.lead_id)
            if lead is None:
                FEEDBACK.labels(_kind(d), "dropped").inc()  # erased, or never known here
                continue
            rows.append((d, _row(d, objected=lead.stage is Stage.OBJECTED)))
        if not rows:
            return
        fresh = set((await conn.execute(
            insert(handover_feedback).values([r for _, r in rows])
            .on_conflict_do_nothing(index_elements=[handover_feedback.c.event_id]).returning(handover_feedback.c.event_id)
        )).scalars())
        model = await self.registry.refresh(conn)
        writes = Writes(model, self.stage_topic)
        for d, _ in rows:
            if d.event.id not in fresh:
                continue  # a redelivered event: recorded and applied before
            data = d.event.data
            if not isinstance(data, HandoverFeedbackRecorded):
                FEEDBACK.labels("sla_breached", "recorded").inc()
                continue
            lead = states[data.lead_id]
            scored = apply_feedback(lead, SalesFeedback(
                handover_id=data.handover_id, decision=data.decision, at=data.decided_at, reason=data.reason,
                note=data.note, outcome_reason=data.outcome_reason, amount=data.amount, currency=data.currency,
                member=data.member,
            ), model.thresholds)
            if not scored.changes:
                FEEDBACK.labels(data.decision.value, "recorded").inc()
                log.info("sales feedback does not fit the lead's stage; recorded without a stage change",
                         lead_id=data.lead_id, decision=data.decision.value, stage=lead.stage.value)
                continue
            states[data.lead_id] = scored.state
            writes.add(scored, data.decided_at, d.event.traceparent, ledger=False)
            FEEDBACK.labels(data.decision.value, "applied").inc()
        await writes.flush(conn)

    @staticmethod
    async def _lock_leads(conn: AsyncConnection, lead_ids: list[str]) -> dict[str, LeadState]:
        rows = await conn.execute(select(leads).where(leads.c.lead_id.in_(lead_ids)).order_by(leads.c.lead_id).with_for_update())
        return {str(r.lead_id): store.row_to_state(r) for r in rows}


def _kind(d: Delivered) -> str:
    data = d.event.data
    return data.decision.value if isinstance(data, HandoverFeedbackRecorded) else "sla_breached"
