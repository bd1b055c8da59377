"""Keeps each lead's current sales assignment from ``leadflow.handover.assigned.v1``, in the consumer's transaction.

The leads are locked in id order (as sales feedback locks them), ``domain.assignment`` decides
which assignment is current, and it is written to the lead's ``assigned_*`` columns, which the
lead list filters on. Writing the same assignment again changes nothing, so a redelivered event
is harmless; an assignment of a lead that is not here (erased, or never known) is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_runtime.consumer import Delivered

from leadflow_scoring.adapters.tables import leads
from leadflow_scoring.domain.assignment import Assignment, latest

ASSIGNMENTS = Counter(
    "leadflow_lead_assignments_total", "Assignment events consumed, by reason (routing, sla_reassignment) and outcome "
    "(applied: now the lead's assignment; stale: older than the one it has; dropped: the lead is gone).", ["reason", "outcome"],
)
SET_ASSIGNMENT = (
    update(leads).where(leads.c.lead_id == bindparam("b_lead_id"))
    .values(assigned_team=bindparam("b_team"), assigned_member=bindparam("b_member"), assigned_at=bindparam("b_at"))
)


async def apply_assignments(conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
    current = await _lock_leads(conn, sorted({d.event.data.lead_id for d in batch}))
    changed: dict[str, Assignment] = {}
    for d in batch:
        data = d.event.data
        if data.lead_id not in current:
            ASSIGNMENTS.labels(data.reason.value, "dropped").inc()
            continue
        incoming = Assignment(data.team, data.member, data.assigned_at)
        now = latest(current[data.lead_id], incoming)
        ASSIGNMENTS.labels(data.reason.value, "applied" if now is incoming else "stale").inc()
        if now != current[data.lead_id]:
            current[data.lead_id] = changed[data.lead_id] = now
    if changed:
        await conn.execute(SET_ASSIGNMENT, [
            {"b_lead_id": lead_id, "b_team": a.team, "b_member": a.member, "b_at": a.assigned_at}
            for lead_id, a in sorted(changed.items())
        ])


async def _lock_leads(conn: AsyncConnection, lead_ids: list[str]) -> dict[str, Assignment | None]:
    rows = await conn.execute(
        select(leads.c.lead_id, leads.c.assigned_team, leads.c.assigned_member, leads.c.assigned_at)
        .where(leads.c.lead_id.in_(lead_ids)).order_by(leads.c.lead_id).with_for_update()
    )
    return {
        str(r.lead_id): Assignment(r.assigned_team, r.assigned_member, r.assigned_at) if r.assigned_at else None
        for r in rows
    }
