"""Sources, their API keys and the provider event ids already seen, in PostgreSQL."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from leadflow_events import TouchpointType

from leadflow_ingest.adapters.tables import api_keys, provider_events, sources
from leadflow_ingest.sources import KeyGrant, Source, SourceKind, SourceSpec

KEY_PREFIX = "lf_"


def key_digest(key: str) -> bytes:
    """Keys are 256-bit random, so a plain SHA-256 is as good as a slow hash and costs nothing per request."""
    return hashlib.sha256(key.encode()).digest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class KeyRecord:
    id: str
    source_id: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _source(row: RowMapping) -> Source:
    return Source(
        id=row["id"], kind=SourceKind(row["kind"]), name=row["name"], signing_secret=row["signing_secret"],
        field_mapping=dict(row["field_mapping"]), touchpoint_type=TouchpointType(row["touchpoint_type"]),
        allowed_origins=tuple(row["allowed_origins"]), thank_you_url=row["thank_you_url"],
        rate_limit_per_minute=row["rate_limit_per_minute"], created_at=row["created_at"], updated_at=row["updated_at"],
    )


def _key(row: RowMapping) -> KeyRecord:
    return KeyRecord(row["id"], row["source_id"], row["prefix"], row["created_at"], row["revoked_at"])


class SourceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def list_sources(self) -> list[Source]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(sources).order_by(sources.c.id))).mappings().all()
        return [_source(r) for r in rows]

    async def get_source(self, source_id: str) -> Source | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(sources).where(sources.c.id == source_id))).mappings().first()
        return _source(row) if row else None

    async def upsert_source(self, source_id: str, spec: SourceSpec, *, create_only: bool = False) -> tuple[Source | None, bool]:
        """Insert or replace; an omitted signing secret keeps the stored one. Returns (source, created).

        With ``create_only`` an existing source is left alone and ``(None, False)`` comes back.
        """
        values = {
            "id": source_id, "kind": spec.kind.value, "name": spec.name,
            "signing_secret": spec.signing_secret.get_secret_value() if spec.signing_secret else None,
            "field_mapping": spec.field_mapping, "touchpoint_type": spec.touchpoint_type.value,
            "allowed_origins": spec.allowed_origins, "thank_you_url": spec.thank_you_url,
            "rate_limit_per_minute": spec.rate_limit_per_minute,
        }
        stmt = insert(sources).values(**values)
        if create_only:
            stmt = stmt.on_conflict_do_nothing(index_elements=[sources.c.id])
        else:
            changes = {k: stmt.excluded[k] for k in values if k not in ("id", "signing_secret")}
            changes["signing_secret"] = func.coalesce(stmt.excluded.signing_secret, sources.c.signing_secret)
            changes["updated_at"] = func.now()
            stmt = stmt.on_conflict_do_update(index_elements=[sources.c.id], set_=changes)
        stmt = stmt.returning(*sources.c, literal_column("(xmax = 0)").label("inserted"))
        async with self.engine.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            return None, False
        return _source(row), bool(row["inserted"])

    async def delete_source(self, source_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(sources).where(sources.c.id == source_id))
        return result.rowcount > 0

    async def create_key(self, source_id: str) -> tuple[KeyRecord, str]:
        key = new_api_key()
        row = {"id": "key_" + secrets.token_hex(8), "source_id": source_id, "key_hash": key_digest(key), "prefix": key[:7]}
        async with self.engine.begin() as conn:
            created = (await conn.execute(insert(api_keys).values(**row).returning(*api_keys.c))).mappings().one()
        return _key(created), key

    async def list_keys(self, source_id: str) -> list[KeyRecord]:
        query = select(api_keys).where(api_keys.c.source_id == source_id).order_by(api_keys.c.created_at, api_keys.c.id)
        async with self.engine.connect() as conn:
            return [_key(r) for r in (await conn.execute(query)).mappings().all()]

    async def revoke_key(self, source_id: str, key_id: str) -> KeyRecord | None:
        stmt = (
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.source_id == source_id)
            .values(revoked_at=func.coalesce(api_keys.c.revoked_at, func.now()))
            .returning(*api_keys.c)
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return _key(row) if row else None

    async def find_key(self, digest: bytes) -> KeyGrant | None:
        query = select(api_keys.c.id, api_keys.c.source_id).where(
            api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return KeyGrant(row.id, row.source_id) if row else None

    async def seen_provider_events(self, source_id: str, provider_ids: Sequence[str]) -> dict[str, str]:
        """Provider event id -> the touchpoint event id it was published as, for those seen before."""
        if not provider_ids:
            return {}
        query = select(provider_events.c.provider_event_id, provider_events.c.event_id).where(
            provider_events.c.source_id == source_id, provider_events.c.provider_event_id.in_(list(provider_ids))
        )
        async with self.engine.connect() as conn:
            return {r.provider_event_id: r.event_id for r in await conn.execute(query)}

    async def record_provider_events(self, source_id: str, published: Iterable[tuple[str, str]]) -> None:
        rows = [{"source_id": source_id, "provider_event_id": p, "event_id": e} for p, e in published]
        if not rows:
            return
        async with self.engine.begin() as conn:
            await conn.execute(insert(provider_events).values(rows).on_conflict_do_nothing())

    async def forget_provider_events(self, older_than: timedelta) -> int:
        stmt = delete(provider_events).where(provider_events.c.received_at < func.now() - older_than)
        async with self.engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount
