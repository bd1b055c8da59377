"""Collects what scoring decided for a batch and writes it in bulk: leads, ledger, history, outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import encode_event
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS
from leadflow_runtime.outbox import outbox_row

from leadflow_scoring.adapters import store
from leadflow_scoring.adapters.tables import outbox
from leadflow_scoring.domain.leads import LeadState
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.scoring import Scored
from leadflow_scoring.stage_events import stage_event

TRANSITIONS = Counter(
    "leadflow_stage_transitions_total", "Stage changes emitted, by from and to stage.", ["from_stage", "to_stage"]
)


@dataclass
class Writes:
    model: ScoringModel
    stage_topic: str
    leads: dict[str, LeadState] = field(default_factory=dict)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)

    def add(self, scored: Scored, occurred_at: datetime, traceparent: str | None = None, *, ledger: bool = True) -> None:
        lead = scored.state
        model = self.model
        self.leads[lead.lead_key] = lead
        for entry in scored.ledger if ledger else ():
            self.ledger.append({
                "lead_id": lead.lead_id, "touchpoint_id": entry.touchpoint_id, "rule_id": entry.rule_id,
                "group_name": entry.dimension, "points": entry.points, "reason": entry.reason,
                "capped": entry.capped, "model_hash": model.hash, "occurred_at": occurred_at,
            })
        for change in scored.changes:
            event = stage_event(change, lead, model, traceparent)
            self.history.append({
                "event_id": event.id, "lead_id": lead.lead_id,
                "from_stage": change.from_stage.value if change.from_stage else None,
                "to_stage": change.to_stage.value, "cause": change.cause.value, "reason": change.reason,
                "touchpoint_id": change.touchpoint_id, "rule_id": change.rule_id, "score": change.score,
                "fit": change.fit, "engagement": change.engagement, "model_hash": model.hash,
                "occurred_at": change.occurred_at, "handover_id": change.handover_id,
                "rejection_reason": change.rejection_reason,
            })
            headers = list(CLOUDEVENT_HEADERS)
            if event.traceparent:
                headers.append(("traceparent", event.traceparent.encode()))
            self.outbox.append(outbox_row(self.stage_topic, lead.lead_id.encode(), encode_event(event), headers))
            TRANSITIONS.labels(change.from_stage.value if change.from_stage else "none", change.to_stage.value).inc()

    async def flush(self, conn: AsyncConnection) -> None:
        await store.upsert_leads(conn, list(self.leads.values()), self.model)
        await store.insert_ledger(conn, self.ledger)
        await store.insert_stage_history(conn, self.history)
        if self.outbox:
            await conn.execute(insert(outbox), self.outbox)
