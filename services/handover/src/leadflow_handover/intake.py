"""Turns stage events into pending deliveries, in the consumer's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import LeadStageChanged
from leadflow_runtime.consumer import Delivered

from leadflow_handover.adapters.tables import deliveries
from leadflow_handover.notification import build_notification
from leadflow_handover.settings import WebhookDestination

DELIVERY_NAMESPACE = uuid.UUID("6f1f4a4e-4c45-4144-8a46-4c4f57000004")


def delivery_id(stage_event_id: str, destination: str) -> str:
    """Deterministic, so a re-consumed stage event maps to the same delivery (and webhook-id)."""
    return "msg_" + uuid.uuid5(DELIVERY_NAMESPACE, f"{stage_event_id}:{destination}").hex


@dataclass
class RecordHandovers:
    destinations: Sequence[WebhookDestination]
    lead_url: str

    async def __call__(self, conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        rows: list[dict[str, Any]] = []
        for d in batch:
            change: LeadStageChanged = d.event.data
            for dest in self.destinations:
                if change.to_stage not in dest.stages:
                    continue
                did = delivery_id(d.event.id, dest.name)
                body = build_notification(did, d.event.id, change, self.lead_url)
                rows.append({
                    "id": did, "stage_event_id": d.event.id, "lead_id": change.lead_id, "destination": dest.name,
                    "status": "pending", "payload": body.model_dump(mode="json"), "qualified_at": change.occurred_at,
                })
        if rows:
            await conn.execute(insert(deliveries).values(rows).on_conflict_do_nothing(index_elements=[deliveries.c.id]))
