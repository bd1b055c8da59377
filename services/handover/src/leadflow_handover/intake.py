"""Turns stage events into pending deliveries, in the consumer's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from sqlalchemy import select

from leadflow_events import LeadStageChanged, StageCauseKind
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
        remodelled = [d.event.data.lead_id for d in batch if d.event.data.cause.kind == StageCauseKind.MODEL_CHANGED]
        handed_over = await self._already_handed_over(conn, remodelled) if remodelled else set()
        for d in batch:
            change: LeadStageChanged = d.event.data
            for dest in self.destinations:
                if change.to_stage not in dest.stages:
                    continue
                if change.cause.kind == StageCauseKind.MODEL_CHANGED and (change.lead_id, dest.name) in handed_over:
                    continue  # a model change never hands the same lead to the same place twice
                did = delivery_id(d.event.id, dest.name)
                body = build_notification(did, d.event.id, change, self.lead_url)
                rows.append({
                    "id": did, "stage_event_id": d.event.id, "lead_id": change.lead_id, "destination": dest.name,
                    "status": "pending", "payload": body.model_dump(mode="json"), "qualified_at": change.occurred_at,
                })
        if rows:
            await conn.execute(insert(deliveries).values(rows).on_conflict_do_nothing(index_elements=[deliveries.c.id]))

    @staticmethod
    async def _already_handed_over(conn: AsyncConnection, lead_ids: list[str]) -> set[tuple[str, str]]:
        rows = await conn.execute(
            select(deliveries.c.lead_id, deliveries.c.destination).where(deliveries.c.lead_id.in_(lead_ids))
        )
        return {(str(r.lead_id), r.destination) for r in rows}
