"""Destinations in PostgreSQL: configured ones upserted at start-up, API ones created and changed at run time.

Every instance reads the table, so a change through the API of one instance reaches the
others at their next batch. Secrets live in their own column and leave this module only
inside a validated destination object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_runtime.logs import get_logger

from leadflow_handover.adapters.tables import deliveries, destinations
from leadflow_handover.destinations import DestinationBase, from_storage

log = get_logger(__name__)

Source = Literal["file", "env", "api"]


class DestinationError(Exception):
    """Base of the errors the API turns into problem documents."""


class DestinationNotFound(DestinationError):
    pass


class DestinationExists(DestinationError):
    pass


class DestinationManagedByConfig(DestinationError):
    """Configured in the file or the environment: change it there, not through the API."""


@dataclass(frozen=True)
class StoredDestination:
    config: DestinationBase
    source: Source
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


def _row(d: DestinationBase, source: Source) -> dict[str, Any]:
    public, secrets = d.split()
    return {"name": d.name, "kind": public["kind"], "config": public, "secrets": secrets,
            "fingerprint": d.fingerprint(), "source": source}


def _stored(r: Any) -> StoredDestination:
    return StoredDestination(
        config=from_storage(r.config, r.secrets), source=r.source, disabled_at=r.disabled_at,
        disabled_reason=r.disabled_reason, created_at=r.created_at, updated_at=r.updated_at,
    )


async def sync_configured(engine: AsyncEngine, configured: Sequence[tuple[DestinationBase, Source]]) -> None:
    """Upsert the file and environment destinations; drop configured ones that are gone from the configuration.

    A destination disabled by a 410 stays disabled unless its entry changed (a new URL or
    secret is a new endpoint). Pending deliveries of a dropped destination fail with a reason.
    """
    t = destinations
    names = [d.name for d, _ in configured]
    async with engine.begin() as conn:
        if configured:
            stmt = insert(t).values([_row(d, s) for d, s in configured])
            same = t.c.fingerprint == stmt.excluded.fingerprint
            stmt = stmt.on_conflict_do_update(
                index_elements=[t.c.name],
                set_={
                    "kind": stmt.excluded.kind, "config": stmt.excluded.config, "secrets": stmt.excluded.secrets,
                    "fingerprint": stmt.excluded.fingerprint, "source": stmt.excluded.source,
                    "disabled_at": case((same, t.c.disabled_at), else_=None),
                    "disabled_reason": case((same, t.c.disabled_reason), else_=None),
                    "updated_at": case((same, t.c.updated_at), else_=func.now()),
                },
            )
            await conn.execute(stmt)
        gone = (await conn.execute(
            t.delete().where(t.c.source.in_(["file", "env"]), t.c.name.not_in(names)).returning(t.c.name)
        )).scalars().all()
        for name in gone:
            await _fail_pending(conn, name, "the destination was removed from the configuration")
    if gone:
        log.warning("destinations removed from the configuration were dropped", destinations=sorted(gone))
    log.info("configured destinations stored", destinations=sorted(names))


async def load_all(conn: AsyncConnection) -> list[StoredDestination]:
    rows = await conn.execute(select(destinations).order_by(destinations.c.name))
    return [_stored(r) for r in rows]


async def load(conn: AsyncConnection, names: Sequence[str]) -> dict[str, StoredDestination]:
    if not names:
        return {}
    rows = await conn.execute(select(destinations).where(destinations.c.name.in_(list(names))))
    return {r.name: _stored(r) for r in rows}


async def get(conn: AsyncConnection, name: str, *, lock: bool = False) -> StoredDestination:
    query = select(destinations).where(destinations.c.name == name)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise DestinationNotFound(name)
    return _stored(row)


async def create(conn: AsyncConnection, d: DestinationBase) -> StoredDestination:
    stmt = insert(destinations).values(_row(d, "api")).on_conflict_do_nothing().returning(destinations)
    row = (await conn.execute(stmt)).first()
    if row is None:
        raise DestinationExists(d.name)
    return _stored(row)


async def replace(conn: AsyncConnection, d: DestinationBase) -> tuple[StoredDestination, bool]:
    """Create or replace an API destination; returns it and whether it was created. Replacing re-enables."""
    try:
        current = await get(conn, d.name, lock=True)
    except DestinationNotFound:
        return await create(conn, d), True
    if current.source != "api":
        raise DestinationManagedByConfig(current.source)
    row = (await conn.execute(
        update(destinations).where(destinations.c.name == d.name)
        .values(**_row(d, "api"), disabled_at=None, disabled_reason=None, updated_at=func.now())
        .returning(destinations)
    )).one()
    return _stored(row), False


async def delete(conn: AsyncConnection, name: str) -> None:
    current = await get(conn, name, lock=True)
    if current.source != "api":
        raise DestinationManagedByConfig(current.source)
    await conn.execute(destinations.delete().where(destinations.c.name == name))
    await _fail_pending(conn, name, "the destination was deleted")


async def disable(conn: AsyncConnection, name: str, reason: str) -> bool:
    """Mark the destination disabled and park its pending deliveries; False when it already was."""
    changed = (await conn.execute(
        update(destinations).where(destinations.c.name == name, destinations.c.disabled_at.is_(None))
        .values(disabled_at=func.now(), disabled_reason=reason, updated_at=func.now())
        .returning(destinations.c.name)
    )).first()
    await conn.execute(
        update(deliveries).where(deliveries.c.destination == name, deliveries.c.status == "pending")
        .values(status="disabled", last_error=f"not sent: the destination is disabled ({reason})")
    )
    return changed is not None


async def enable(conn: AsyncConnection, name: str) -> StoredDestination:
    await get(conn, name, lock=True)
    row = (await conn.execute(
        update(destinations).where(destinations.c.name == name)
        .values(disabled_at=None, disabled_reason=None, updated_at=func.now()).returning(destinations)
    )).one()
    return _stored(row)


async def _fail_pending(conn: AsyncConnection, name: str, reason: str) -> None:
    await conn.execute(
        update(deliveries).where(deliveries.c.destination == name, deliveries.c.status == "pending")
        .values(status="failed", last_error=reason)
    )
