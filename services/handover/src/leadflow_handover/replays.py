"""Replays: send a delivery again with the same id (so the same ``webhook-id``), from the first step.

A replayed delivery is ``pending`` again, due now, and its retry schedule starts over;
its earlier attempts stay in the log. Nothing of a lead with a delivery cancelled for
privacy (an objection or an erasure) is replayed, nor anything whose payload was wiped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_handover.adapters import destination_store
from leadflow_handover.adapters.destination_store import DestinationNotFound
from leadflow_handover.adapters.tables import deliveries

REPLAYABLE = ("failed", "disabled", "succeeded")


def _withdrawn(lead_id: Any) -> Any:
    """The lead objected or was erased: the privacy handler cancelled a delivery of it."""
    other = deliveries.alias("other")
    return select(other.c.id).where(other.c.lead_id == lead_id, other.c.status == "cancelled").exists()


class ReplayRefused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _again() -> dict[str, Any]:
    return {
        "status": "pending", "next_attempt_at": func.now(), "retry_base": deliveries.c.attempts,
        "replays": deliveries.c.replays + 1, "last_replayed_at": func.now(), "last_error": None, "progress": {},
    }


async def _enabled(conn: AsyncConnection, name: str, missing: int = 409) -> None:
    try:
        target = await destination_store.get(conn, name)
    except DestinationNotFound:
        raise ReplayRefused(missing, f"Destination {name!r} does not exist (any more); nothing can be sent to it.") from None
    if not target.enabled:
        raise ReplayRefused(
            409, f"Destination {name!r} is disabled ({target.disabled_reason}). Enable it first: "
                 f"POST /v1/destinations/{name}/enable.",
        )


async def replay_delivery(conn: AsyncConnection, delivery_id: str) -> None:
    row = (await conn.execute(
        select(deliveries.c.status, deliveries.c.destination, deliveries.c.payload, deliveries.c.next_attempt_at,
               _withdrawn(deliveries.c.lead_id).label("withdrawn"))
        .where(deliveries.c.id == delivery_id).with_for_update(of=deliveries)
    )).first()
    if row is None:
        raise ReplayRefused(404, f"No delivery with id {delivery_id!r}.")
    if row.status == "pending":
        raise ReplayRefused(409, f"Delivery {delivery_id} is pending already; its next attempt is due at "
                                 f"{row.next_attempt_at.isoformat(timespec='seconds')}.")
    if row.status not in REPLAYABLE or not row.payload or row.withdrawn:
        raise ReplayRefused(409, f"Delivery {delivery_id} was cancelled for privacy (an objection or an erasure); "
                                 "it is never sent again.")
    await _enabled(conn, row.destination)
    await conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**_again()))


async def replay_failed(
    conn: AsyncConnection, destination: str, statuses: Sequence[str], since: datetime | None, limit: int
) -> list[str]:
    """Replay the destination's failed (and parked) deliveries, oldest first; returns their ids."""
    await _enabled(conn, destination, missing=404)
    chosen = (
        select(deliveries.c.id)
        .where(deliveries.c.destination == destination, deliveries.c.status.in_(list(statuses)),
               deliveries.c.payload != func.jsonb_build_object(), ~_withdrawn(deliveries.c.lead_id))
        .order_by(deliveries.c.created_at, deliveries.c.id)
        .limit(limit)
        .with_for_update(of=deliveries, skip_locked=True)
    )
    if since is not None:
        chosen = chosen.where(deliveries.c.created_at >= since)
    rows = await conn.execute(
        update(deliveries).where(deliveries.c.id.in_(chosen.scalar_subquery())).values(**_again()).returning(deliveries.c.id)
    )
    return [r.id for r in rows]
