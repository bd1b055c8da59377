"""Honours objections and erasures announced by scoring, in the consumer's transaction.

- ``leadflow.lead.erased.v1``: the lead's deliveries keep their status for the record,
  but their payloads, response excerpts and errors (which can name the person) are wiped.
- a stage change to ``objected``: pending and failed deliveries for the lead are cancelled and
  wiped, so nobody can replay them.

Either way the lead's pending handovers are cancelled (no deadline, no feedback any more) and
the notification kept for escalations is wiped; an erasure wipes sales' notes too.
Everything else goes to the wrapped handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import LEAD_ERASED_V1, Stage
from leadflow_runtime.consumer import Delivered

from leadflow_handover.adapters.tables import deliveries, delivery_attempts, handovers

WIPED = Counter("leadflow_handover_privacy_actions_total", "Deliveries cancelled or wiped for privacy, by reason.", ["reason"])


@dataclass
class PrivacyFirst:
    inner: Callable[[AsyncConnection, Sequence[Delivered]], Awaitable[None]]

    async def __call__(self, conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
        erased = [d.event.data.lead_id for d in batch if d.event.type == LEAD_ERASED_V1]
        stage_events = [d for d in batch if d.event.type != LEAD_ERASED_V1]
        objected = [d.event.data.lead_id for d in stage_events if d.event.data.to_stage == Stage.OBJECTED]
        rest = [d for d in stage_events if d.event.data.lead_id not in set(objected) | set(erased)]
        if rest:
            await self.inner(conn, rest)
        if objected:
            result = await conn.execute(
                update(deliveries).where(deliveries.c.lead_id.in_(objected), deliveries.c.status.in_(["pending", "failed"]))
                .values(status="cancelled", payload={}, last_error="cancelled: the person objected to profiling")
            )
            WIPED.labels("objection").inc(result.rowcount or 0)
            await _withdraw_handovers(conn, objected, "cancelled: the person objected to profiling", wipe_notes=False)
        if erased:
            result = await conn.execute(
                update(deliveries).where(deliveries.c.lead_id.in_(erased)).values(payload={}, last_error=None, progress={})
            )
            await conn.execute(
                update(delivery_attempts)
                .where(delivery_attempts.c.delivery_id.in_(select(deliveries.c.id).where(deliveries.c.lead_id.in_(erased))))
                .values(response_excerpt=None, error=None)
            )
            await conn.execute(
                update(deliveries).where(deliveries.c.lead_id.in_(erased), deliveries.c.status.in_(["pending", "failed"]))
                .values(status="cancelled", last_error="cancelled: the lead was erased")
            )
            WIPED.labels("erasure").inc(result.rowcount or 0)
            await _withdraw_handovers(conn, erased, "cancelled: the lead was erased", wipe_notes=True)


async def _withdraw_handovers(conn: AsyncConnection, lead_ids: list[str], reason: str, *, wipe_notes: bool) -> None:
    wiped = {"notification": {}} | ({"note": None, "outcome_reason": None, "decided_by": None} if wipe_notes else {})
    await conn.execute(update(handovers).where(handovers.c.lead_id.in_(lead_ids)).values(**wiped))
    await conn.execute(
        update(handovers).where(handovers.c.lead_id.in_(lead_ids), handovers.c.status == "pending")
        .values(status="cancelled", sla_deadline=None, cancelled_reason=reason)
    )
