"""Applies a batch of touchpoints: one SELECT of the affected leads, pure scoring, bulk writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from prometheus_client import Counter
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import CloudEvent, TouchpointRecorded, encode_event
from leadflow_runtime.consumer import Delivered
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS
from leadflow_runtime.outbox import outbox_row
from leadflow_runtime.logs import get_logger

from leadflow_scoring.adapters import store
from leadflow_scoring.adapters.tables import outbox
from leadflow_scoring.domain.leads import LeadState, Touchpoint
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.scoring import lead_id_for, score_touchpoint
from leadflow_scoring.stage_events import stage_event

log = get_logger(__name__)

TRANSITIONS = Counter(
    "leadflow_stage_transitions_total", "Stage changes emitted, by from and to stage.", ["from_stage", "to_stage"]
)
DUPLICATES = Counter("leadflow_touchpoints_duplicate_total", "Touchpoints dropped because their event id was seen before.")


def to_touchpoint(event: CloudEvent[TouchpointRecorded]) -> Touchpoint:
    data = event.data
    return Touchpoint(
        event_id=event.id,
        type=data.touchpoint_type.value,
        occurred_at=data.occurred_at,
        email=data.identity.email,
        anonymous_id=data.identity.anonymous_id,
        profile=MappingProxyType(data.profile.model_dump(exclude_none=True)),
        properties=MappingProxyType(dict(data.properties)),
        source_id=data.source_id,
    )


@dataclass
class ApplyTouchpoints:
    model: ScoringModel
    stage_topic: str

    async def __call__(self, conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        seen: set[str] = set()
        items: list[tuple[Delivered, Touchpoint]] = []
        for d in batch:
            if d.event.id in seen:
                continue
            seen.add(d.event.id)
            items.append((d, to_touchpoint(d.event)))
        fresh_ids = await store.insert_new_touchpoints(conn, [self._touchpoint_row(d, tp) for d, tp in items])
        if len(fresh_ids) < len(batch):
            DUPLICATES.inc(len(batch) - len(fresh_ids))
        items = [(d, tp) for d, tp in items if tp.event_id in fresh_ids]
        if not items:
            return
        states: dict[str, LeadState] = await store.load_leads(conn, (tp.lead_key for _, tp in items))
        touched: dict[str, LeadState] = {}
        ledger_rows: list[dict[str, Any]] = []
        history_rows: list[dict[str, Any]] = []
        outbox_rows: list[dict[str, Any]] = []
        model = self.model
        for delivered, tp in items:
            scored = score_touchpoint(states.get(tp.lead_key), tp, model)
            lead = scored.state
            states[tp.lead_key] = touched[tp.lead_key] = lead
            for entry in scored.ledger:
                ledger_rows.append({
                    "lead_id": lead.lead_id, "touchpoint_id": entry.touchpoint_id, "rule_id": entry.rule_id,
                    "dimension": entry.dimension, "points": entry.points, "reason": entry.reason,
                    "capped": entry.capped, "model_hash": model.hash, "occurred_at": tp.occurred_at,
                })
            for change in scored.changes:
                event = stage_event(change, lead, model, delivered.event.traceparent)
                history_rows.append({
                    "event_id": event.id, "lead_id": lead.lead_id,
                    "from_stage": change.from_stage.value if change.from_stage else None,
                    "to_stage": change.to_stage.value, "cause": change.cause.value, "reason": change.reason,
                    "touchpoint_id": change.touchpoint_id, "rule_id": change.rule_id, "score": change.score,
                    "fit": change.fit, "engagement": change.engagement, "model_hash": model.hash,
                    "occurred_at": change.occurred_at,
                })
                headers = list(CLOUDEVENT_HEADERS)
                if event.traceparent:
                    headers.append(("traceparent", event.traceparent.encode()))
                outbox_rows.append(outbox_row(self.stage_topic, lead.lead_id.encode(), encode_event(event), headers))
                TRANSITIONS.labels(change.from_stage.value if change.from_stage else "none", change.to_stage.value).inc()
        await store.upsert_leads(conn, list(touched.values()), model.id, model.hash)
        await store.insert_ledger(conn, ledger_rows)
        await store.insert_stage_history(conn, history_rows)
        if outbox_rows:
            await conn.execute(insert(outbox), outbox_rows)

    @staticmethod
    def _touchpoint_row(d: Delivered, tp: Touchpoint) -> dict[str, Any]:
        return {
            "event_id": tp.event_id,
            "lead_id": lead_id_for(tp.lead_key),
            "type": tp.type,
            "occurred_at": tp.occurred_at,
            "received_at": d.event.data.received_at,
            "source_id": tp.source_id,
            "profile": dict(tp.profile),
            "properties": dict(tp.properties),
            "kafka_partition": d.record.partition,
            "kafka_offset": d.record.offset,
        }
