"""Handovers and their escalations in PostgreSQL.

A handover row is locked ``FOR UPDATE`` while feedback is recorded, and overdue ones are
claimed ``FOR UPDATE SKIP LOCKED`` by the SLA job: several instances never escalate the
same deadline twice, and never wait for each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_handover.adapters.tables import deliveries, handover_escalations, handovers

SUFFIX = "#"  # escalation and reassignment deliveries carry "<stage event id>#sla-<n>" / "#reassign-<n>"
LIST_COLUMNS = [c for c in handovers.c if c.name != "notification"]


async def insert_new(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert the handovers not recorded before; returns the ids of those that were new."""
    if not rows:
        return set()
    inserted = await conn.execute(
        insert(handovers).values(list(rows)).on_conflict_do_nothing(index_elements=[handovers.c.stage_event_id])
        .returning(handovers.c.id)
    )
    return set(inserted.scalars())


async def leads_with_handovers(conn: AsyncConnection, lead_ids: Sequence[str]) -> set[str]:
    rows = await conn.execute(select(handovers.c.lead_id).where(handovers.c.lead_id.in_(list(lead_ids))).distinct())
    return {str(r.lead_id) for r in rows}


async def resolve(conn: AsyncConnection, some_id: str) -> str | None:
    """The handover's own id for its id or the id of any of its deliveries (the notification's ``handover_id``)."""
    if not some_id.startswith("msg_"):
        return some_id
    event_id = await conn.scalar(select(deliveries.c.stage_event_id).where(deliveries.c.id == some_id))
    if event_id is None:
        return None
    return await conn.scalar(select(handovers.c.id).where(handovers.c.stage_event_id == event_id.partition(SUFFIX)[0]))


async def get(conn: AsyncConnection, handover_id: str, *, lock: bool = False) -> Any | None:
    query = select(handovers).where(handovers.c.id == handover_id)
    return (await conn.execute(query.with_for_update() if lock else query)).first()


async def change(conn: AsyncConnection, handover_id: str, values: dict[str, Any]) -> Any:
    return (await conn.execute(
        update(handovers).where(handovers.c.id == handover_id).values(**values, updated_at=func.now()).returning(handovers)
    )).one()


async def claim_overdue(conn: AsyncConnection, now: datetime, limit: int) -> list[Any]:
    """Pending handovers whose deadline has passed, locked; rows another instance holds are skipped."""
    rows = await conn.execute(
        select(handovers)
        .where(handovers.c.status == "pending", handovers.c.sla_deadline.is_not(None), handovers.c.sla_deadline <= now)
        .order_by(handovers.c.sla_deadline)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def add_escalation(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(
        insert(handover_escalations).values(row).on_conflict_do_nothing(constraint="uq_handover_escalations_number")
    )


async def page(
    conn: AsyncConnection, *, status: str | None, lead_id: str | None, limit: int, before: tuple[datetime, str] | None
) -> list[dict[str, Any]]:
    """Newest first; ``before`` is the (handed_over_at, id) of the previous page's last row."""
    query = select(*LIST_COLUMNS).order_by(handovers.c.handed_over_at.desc(), handovers.c.id.desc()).limit(limit)
    if status:
        query = query.where(handovers.c.status == status)
    if lead_id:
        query = query.where(handovers.c.lead_id == lead_id)
    if before is not None:
        at, hid = before
        query = query.where((handovers.c.handed_over_at < at) | ((handovers.c.handed_over_at == at) & (handovers.c.id < hid)))
    return [dict(r._mapping) for r in await conn.execute(query)]


async def one(conn: AsyncConnection, handover_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(*LIST_COLUMNS).where(handovers.c.id == handover_id))).first()
    return dict(row._mapping) if row is not None else None


async def escalations_of(conn: AsyncConnection, handover_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if handover_ids:
        rows = await conn.execute(
            select(handover_escalations).where(handover_escalations.c.handover_id.in_(list(handover_ids)))
            .order_by(handover_escalations.c.handover_id, handover_escalations.c.number)
        )
        for r in rows:
            out.setdefault(r.handover_id, []).append(dict(r._mapping))
    return out


def escalation_event_id(stage_event_id: str, kind: str, number: int) -> str:
    """The ``stage_event_id`` of an escalation (``sla``) or reassignment (``reassign``) delivery."""
    return f"{stage_event_id}{SUFFIX}{kind}-{number}"


async def deliveries_of(conn: AsyncConnection, handovers_: Sequence[tuple[str, int]]) -> dict[str, list[dict[str, Any]]]:
    """The deliveries of each ``(stage event id, escalations)`` handover - the first notification, escalations,
    reassignments - by stage event id; looked up by their exact ids, so through the unique index."""
    wanted: dict[str, str] = {}
    for event_id, escalations in handovers_:
        wanted[event_id] = event_id
        for n in range(1, escalations + 1):
            for kind in ("sla", "reassign"):
                wanted[escalation_event_id(event_id, kind, n)] = event_id
    out: dict[str, list[dict[str, Any]]] = {}
    if not wanted:
        return out
    rows = await conn.execute(
        select(deliveries.c.id, deliveries.c.destination, deliveries.c.status, deliveries.c.delivered_at,
               deliveries.c.stage_event_id)
        .where(deliveries.c.stage_event_id.in_(list(wanted)))
        .order_by(deliveries.c.seq)
    )
    for r in rows:
        out.setdefault(wanted[r.stage_event_id], []).append(dict(r._mapping))
    return out
