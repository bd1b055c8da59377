"""PostgreSQL engine set-up and the small tables every consuming service owns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, func, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def _plain(value: Any) -> Any:
    if type(value) is MappingProxyType or isinstance(value, Mapping):  # read-only views of the domain
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_text(value: Any) -> str:
    """JSON for JSON/JSONB columns, with orjson (several times faster than ``json.dumps``; the scoring worker
    writes a handful of JSON columns per lead): keys that are not strings become strings, as with ``json``,
    datetimes ISO 8601 as ``datetime.isoformat`` writes them, read-only mappings objects."""
    return orjson.dumps(value, default=_plain, option=orjson.OPT_NON_STR_KEYS).decode()


def _loads(text: str) -> Any:
    """orjson, falling back to ``json`` for what orjson refuses (integers past 64 bits in stored properties)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping: with asyncpg it costs three round trips (BEGIN, ping, ROLLBACK) on every checkout. A
        # connection PostgreSQL dropped fails its first statement instead, which invalidates the whole pool;
        # workers retry that as a transient failure and the APIs answer 503 with Retry-After.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"timeout": 5, "command_timeout": 30},
        json_serializer=json_text,
        json_deserializer=_loads,
    )


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def consumer_offsets_table(metadata: MetaData) -> Table:
    """Offsets applied so far, committed in the same transaction as their effects."""
    return Table(
        "consumer_offsets",
        metadata,
        Column("group_id", String, primary_key=True),
        Column("topic", String, primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("next_offset", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
