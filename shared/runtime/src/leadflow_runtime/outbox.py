"""Transactional outbox: events are written with the state change and published afterwards.

Rows carry a shard (a hash of the record key); the relay takes a PostgreSQL advisory lock
per shard, so several instances can relay in parallel while each key's events still leave
in the order they were written. A crash between publish and mark republishes (consumers
dedupe on the CloudEvents id); nothing is lost.

Each published chunk is a ``send <topic>`` producer span linked to the rows' trace contexts
(their ``traceparent`` headers, written with the rows). Backlog and age are measured every
``REPORT_SECONDS``, under load too.
"""

from __future__ import annotations

import asyncio
import time
import weakref
import zlib
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger, Column, DateTime, Index, Insert, Integer, LargeBinary, MetaData, String, Table, event, func, select, text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_runtime import tracing
from leadflow_runtime.bulk import BulkInsert
from leadflow_runtime.consumer import call_after_commit, in_consumer_transaction
from leadflow_runtime.errors import is_transient
from leadflow_runtime.health import Heartbeat
from leadflow_runtime.logs import get_logger

log = get_logger(__name__)

SHARDS = 32
REPORT_SECONDS = 5.0
LOCK_NAMESPACE = 0x4C46  # "LF"

PUBLISHED = Counter("leadflow_outbox_published_total", "Outbox events published to Kafka.", ["service"])
BACKLOG = Gauge("leadflow_outbox_backlog_events", "Outbox events not yet published.", ["service"])
OLDEST = Gauge("leadflow_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event.", ["service"])


def outbox_table(metadata: MetaData) -> Table:
    table = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("shard", Integer, nullable=False),
        Column("topic", String, nullable=False),
        Column("key", LargeBinary, nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
    )
    Index("ix_outbox_pending", table.c.shard, table.c.id, postgresql_where=table.c.published_at.is_(None))
    return table


def shard_of(key: bytes) -> int:
    return zlib.crc32(key) % SHARDS


def outbox_row(topic: str, key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]] = ()) -> dict[str, Any]:
    return {
        "shard": shard_of(key),
        "topic": topic,
        "key": key,
        "value": value,
        "headers": [[k, v.decode("latin-1")] for k, v in headers],
    }


OUTBOX_COLUMNS = ("shard", "topic", "key", "value", "headers")
_INSERTS: dict[Table, BulkInsert] = {}
_RELAYS: weakref.WeakSet[OutboxRelay] = weakref.WeakSet()  # relays woken by the consumer writes of their table


async def write_outbox(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Many ``outbox_row``s in one statement, in the caller's transaction. Inside a ``TransactionalConsumer``
    batch, the relays of this table that asked for it (``wake_after_consumer_writes``) wake once it commits."""
    if not rows:
        return
    insert = _INSERTS.get(table)
    if insert is None:
        insert = _INSERTS[table] = BulkInsert(table, OUTBOX_COLUMNS)
    await insert.execute(conn, rows)
    if in_consumer_transaction():
        for relay in list(_RELAYS):
            if relay.table is table:
                call_after_commit(relay.wake)


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        table: Table,
        heartbeat: Heartbeat,
        poll_interval: float = 1.0,
        batch_size: int = 500,
        keep_published_seconds: float = 3600.0,
    ) -> None:
        self.service = service
        self.engine = engine
        self.producer = producer
        self.table = table
        self.heartbeat = heartbeat
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.keep_published_seconds = keep_published_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_purge = 0.0
        self._last_report = 0.0

    def wake(self) -> None:
        self._wake.set()

    def wake_after_consumer_writes(self) -> None:
        """Wake once a ``TransactionalConsumer`` transaction that wrote to this outbox has committed.

        Instead of waking after every batch: a batch that emits no event costs the relay no pass. Rows written
        with ``write_outbox`` wake it too.
        """
        table = self.table
        _RELAYS.add(self)

        def written(conn: Any, clause: Any, *_: Any) -> None:
            if isinstance(clause, Insert) and clause.table is table and in_consumer_transaction():
                call_after_commit(self.wake)

        event.listen(self.engine.sync_engine, "after_execute", written)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        delay = 0.2
        while not self._stopping:
            self.heartbeat.beat()
            try:
                moved = await self.relay_once()
                delay = 0.2
                await self._maybe_report()
                if moved:
                    continue
                await self._maybe_purge()
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("outbox relay failed")
                else:
                    log.warning("outbox relay waiting for a dependency", error=f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def relay_once(self) -> int:
        """Publish what is pending in every shard this instance can lock, in one transaction and one wait for
        Kafka's acknowledgements; return how many were published."""
        t = self.table
        async with self.engine.begin() as conn:
            # One statement: lock every pending shard no other instance holds, and read what is pending in those.
            pending = select(t.c.shard).where(t.c.published_at.is_(None)).group_by(t.c.shard).subquery()
            # a CTE runs once (it calls a volatile function), so each shard is tried once, not once per row
            locked = select(pending.c.shard).where(func.pg_try_advisory_xact_lock(LOCK_NAMESPACE, pending.c.shard)).cte("locked")
            rows = (
                await conn.execute(
                    select(t.c.id, t.c.shard, t.c.topic, t.c.key, t.c.value, t.c.headers)
                    .where(t.c.shard.in_(select(locked.c.shard)), t.c.published_at.is_(None))
                    .order_by(t.c.id)  # per key (so per shard) in the order written
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0  # nothing pending, or other instances hold every pending shard
            links = tracing.links_to(tracing.header_value(row.headers) for row in rows)
            with tracing.producer_span(rows[0].topic, len(rows), links=links, **{"leadflow.outbox.shards": len({r.shard for r in rows})}):
                futures = []
                for row in rows:
                    headers = [(k, v.encode("latin-1")) for k, v in row.headers]
                    futures.append(await self.producer.send(row.topic, value=row.value, key=row.key, headers=headers))
                await asyncio.gather(*futures)
            await conn.execute(t.update().where(t.c.id.in_([r.id for r in rows])).values(published_at=func.now()))
        PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _maybe_purge(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < 30:
            return
        self._last_purge = now
        t = self.table
        async with self.engine.begin() as conn:
            await conn.execute(
                t.delete().where(
                    t.c.published_at.is_not(None),
                    t.c.published_at < func.now() - text(f"interval '{int(self.keep_published_seconds)} seconds'"),
                )
            )

    async def _maybe_report(self) -> None:
        """Backlog and age of the oldest pending event: one query over the pending rows every few seconds."""
        now = time.monotonic()
        if now - self._last_report < REPORT_SECONDS:
            return
        self._last_report = now
        async with self.engine.connect() as conn:
            await self._report(conn)

    async def _report(self, conn: AsyncConnection) -> None:
        t = self.table
        count, age = (
            await conn.execute(
                select(func.count(), func.extract("epoch", func.now() - func.min(t.c.created_at)))
                .where(t.c.published_at.is_(None))
            )
        ).one()
        BACKLOG.labels(self.service).set(count)
        OLDEST.labels(self.service).set(float(age or 0))
