"""Applies a batch of touchpoints: one SELECT of the affected leads, pure scoring, bulk writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import CloudEvent, TouchpointRecorded
from leadflow_runtime.consumer import Delivered

from leadflow_scoring.adapters import store
from leadflow_scoring.domain.leads import Touchpoint
from leadflow_scoring.domain.scoring import lead_id_for, score_touchpoint
from leadflow_scoring.model_registry import ModelRegistry
from leadflow_scoring.writes import Writes

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
    registry: ModelRegistry
    stage_topic: str

    async def __call__(self, conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        seen: set[str] = set()
        items: list[tuple[Delivered, Touchpoint]] = []
        for d in batch:
            if d.event.id not in seen:
                seen.add(d.event.id)
                items.append((d, to_touchpoint(d.event)))
        fresh_ids = await store.insert_new_touchpoints(conn, [self._touchpoint_row(d, tp) for d, tp in items])
        if len(fresh_ids) < len(batch):
            DUPLICATES.inc(len(batch) - len(fresh_ids))
        items = [(d, tp) for d, tp in items if tp.event_id in fresh_ids]
        if not items:
            return
        states = await store.load_leads(conn, (tp.lead_key for _, tp in items))
        model = await self.registry.refresh(conn)  # after the locks: see model_registry
        writes = Writes(model, self.stage_topic)
        for delivered, tp in items:
            scored = score_touchpoint(states.get(tp.lead_key), tp, model)
            states[tp.lead_key] = scored.state
            writes.add(scored, tp.occurred_at, delivered.event.traceparent)
        await writes.flush(conn)

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
