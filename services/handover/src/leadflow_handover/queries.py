"""Read side of the handover API: the delivery log page by page, destination health, assignments."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_handover.adapters.tables import assignments, deliveries, delivery_attempts

DELIVERY_COLUMNS = [c for c in deliveries.c if c.name not in {"payload", "progress", "traceparent"}]
# newest first; ``seq`` is the recording order, so a page boundary never splits or repeats a row


class BadCursor(ValueError):
    pass


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"d:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, seq = raw.partition(":")
        if kind != "d":
            raise ValueError(kind)
        return int(seq)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("the cursor is not one this API handed out") from exc


@dataclass(frozen=True)
class DeliveryFilter:
    lead_id: str | None = None
    destination: str | None = None
    status: str | None = None


async def delivery_page(
    conn: AsyncConnection, f: DeliveryFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the second value is the cursor of the next page (None on the last page)."""
    query = select(*DELIVERY_COLUMNS).order_by(deliveries.c.seq.desc()).limit(limit + 1)
    if f.lead_id:
        query = query.where(deliveries.c.lead_id == f.lead_id)
    if f.destination:
        query = query.where(deliveries.c.destination == f.destination)
    if f.status:
        query = query.where(deliveries.c.status == f.status)
    if cursor:
        query = query.where(deliveries.c.seq < decode_cursor(cursor))
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    await _attach_attempts(conn, rows)
    return rows, encode_cursor(rows[-1]["seq"]) if more and rows else None


async def delivery(conn: AsyncConnection, delivery_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(*DELIVERY_COLUMNS, deliveries.c.payload).where(deliveries.c.id == delivery_id))).first()
    if row is None:
        return None
    found = [dict(row._mapping)]
    await _attach_attempts(conn, found)
    return found[0]


async def _attach_attempts(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    ids = [r["id"] for r in rows]
    attempts: dict[str, list[dict[str, Any]]] = {}
    if ids:
        for a in await conn.execute(
            select(delivery_attempts).where(delivery_attempts.c.delivery_id.in_(ids)).order_by(delivery_attempts.c.id)
        ):
            attempts.setdefault(a.delivery_id, []).append(dict(a._mapping))
    for r in rows:
        r["lead_id"] = str(r["lead_id"])
        r["attempt_log"] = attempts.get(r["id"], [])


async def health(conn: AsyncConnection, destination: str, window: timedelta) -> dict[str, Any]:
    """Delivery counts by status, and over the window: attempts, success rate and latency percentiles."""
    counts = {
        status: n for status, n in await conn.execute(
            select(deliveries.c.status, func.count()).where(deliveries.c.destination == destination).group_by(deliveries.c.status)
        )
    }
    of_destination = delivery_attempts.join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
    a = delivery_attempts
    since = func.now() - window
    in_window = (await conn.execute(
        select(
            func.count(),
            func.count().filter(a.c.verdict == "succeeded"),
            func.percentile_cont(0.5).within_group(a.c.duration_seconds),
            func.percentile_cont(0.95).within_group(a.c.duration_seconds),
        ).select_from(of_destination).where(deliveries.c.destination == destination, a.c.started_at > since)
    )).one()
    last = (await conn.execute(
        select(
            func.max(a.c.started_at).filter(a.c.verdict == "succeeded"),
            func.max(a.c.started_at).filter(a.c.verdict != "succeeded"),
        ).select_from(of_destination).where(deliveries.c.destination == destination)
    )).one()
    last_failure = None
    if last[1] is not None:
        last_failure = (await conn.execute(
            select(a.c.status_code, a.c.error, a.c.verdict).select_from(of_destination)
            .where(deliveries.c.destination == destination, a.c.started_at == last[1]).limit(1)
        )).first()
    oldest_pending = await conn.scalar(
        select(func.min(deliveries.c.created_at)).where(deliveries.c.destination == destination, deliveries.c.status == "pending")
    )
    attempts, succeeded, p50, p95 = in_window
    return {
        "deliveries": {s: counts.get(s, 0) for s in ("pending", "succeeded", "failed", "disabled", "cancelled")},
        "attempts": attempts,
        "succeeded_attempts": succeeded,
        "success_rate": round(succeeded / attempts, 4) if attempts else None,
        "latency_p50_seconds": round(p50, 4) if p50 is not None else None,
        "latency_p95_seconds": round(p95, 4) if p95 is not None else None,
        "last_success_at": last[0],
        "last_failure_at": last[1],
        "last_failure": None if last_failure is None else {
            "status_code": last_failure.status_code, "error": last_failure.error, "verdict": last_failure.verdict,
        },
        "oldest_pending_created_at": oldest_pending,
    }


async def assignment_list(
    conn: AsyncConnection, *, lead_id: str | None, team: str | None, member: str | None, limit: int
) -> list[dict[str, Any]]:
    query = select(assignments).order_by(assignments.c.assigned_at.desc(), assignments.c.id.desc()).limit(limit)
    if lead_id:
        query = query.where(assignments.c.lead_id == lead_id)
    if team:
        query = query.where(assignments.c.team == team)
    if member:
        query = query.where(assignments.c.member == member)
    return [{**dict(r._mapping), "lead_id": str(r.lead_id)} for r in await conn.execute(query)]
