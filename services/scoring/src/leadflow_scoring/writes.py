"""Collects what scoring decided for a batch and writes it in bulk: leads, ledger, history, outbox."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import encode_event
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS
from leadflow_runtime.bulk import driver_connection, in_flight
from leadflow_runtime.outbox import outbox_row, write_outbox

from leadflow_scoring.adapters import store
from leadflow_scoring.adapters.tables import outbox
from leadflow_scoring.domain.leads import LeadState
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.scoring import Scored, StageChanged
from leadflow_scoring.stage_events import stage_event

TRANSITIONS = Counter(
    "leadflow_stage_transitions_total", "Stage changes emitted, by from and to stage.", ["from_stage", "to_stage"]
)


@dataclass
class Writes:
    """What a batch decided, written by ``flush``. Stage events are built in ``flush`` while PostgreSQL runs the
    lead upsert, so the process and the database work at the same time."""

    model: ScoringModel
    stage_topic: str
    leads: dict[str, LeadState] = field(default_factory=dict)
    ledger: list[tuple[Any, ...]] = field(default_factory=list)  # LEDGER_INSERT records
    changes: list[tuple[StageChanged, LeadState, str | None]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # filled by flush
    outbox: list[dict[str, Any]] = field(default_factory=list)  # filled by flush

    def add(self, scored: Scored, occurred_at: datetime, traceparent: str | None = None, *, ledger: bool = True) -> None:
        lead = scored.state
        self.leads[lead.lead_key] = lead
        if ledger and scored.ledger:
            lead_id, model_hash = lead.lead_id, self.model.hash
            self.ledger += [store.ledger_record(lead_id, entry, model_hash, occurred_at) for entry in scored.ledger]
        self.changes += [(change, lead, traceparent) for change in scored.changes]

    def _events(self) -> None:
        """Stage history rows and outbox rows for the changes: each event carries the lead as it was at its change."""
        model = self.model
        for change, lead, traceparent in self.changes:
            event = stage_event(change, lead, model, traceparent)
            from_stage = change.from_stage.value if change.from_stage else None
            self.history.append({
                "event_id": event.id, "lead_id": lead.lead_id, "from_stage": from_stage,
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
            TRANSITIONS.labels(from_stage or "none", change.to_stage.value).inc()

    async def flush(self, conn: AsyncConnection) -> None:
        db = await driver_connection(conn)
        upsert = await store.LEAD_UPSERT.load(db, store.lead_records(self.leads.values(), self.model)) if self.leads \
            else asyncio.sleep(0)
        async with in_flight(upsert):
            self._events()  # while PostgreSQL updates the leads
        await store.insert_ledger(conn, self.ledger)
        await store.insert_stage_history(conn, self.history)
        await write_outbox(conn, outbox, self.outbox)
