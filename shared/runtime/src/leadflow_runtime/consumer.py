"""Effectively-once consumption: a batch's effects and its offsets commit in one PostgreSQL transaction.

The loop owns every acknowledge / retry / dead-letter decision; handlers are plain
coroutines that write through the connection they are given and raise on failure.

- On partition assignment the consumer seeks to the offsets stored in PostgreSQL.
- Inside the transaction the stored offsets are locked (``FOR UPDATE``) and records below
  them are dropped, so two instances racing through a rebalance cannot both apply a record.
- Transient failures (see ``errors``) roll back and retry the same batch; no offset moves.
- A record that fails permanently is published to ``<topic>.dlq`` with the error in its
  headers, then its offset is stored; the partition keeps moving.
- Each batch runs in a ``process <topic>`` span (see ``tracing``) with ``trace_id`` bound to
  its log lines, and ``event_id`` too while a single event is being applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord
from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Table, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadflow_events import CloudEvent, ContractViolation, dead_letter_topic, decode_event
from leadflow_runtime import tracing
from leadflow_runtime.errors import is_transient
from leadflow_runtime.health import Heartbeat
from leadflow_runtime.logs import get_logger

log = get_logger(__name__)
KAFKA_COMMIT_SECONDS = 1.0

BATCH_SIZE = Histogram(
    "leadflow_consumer_batch_records", "Records per applied batch.", ["group"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
BATCH_SECONDS = Histogram(
    "leadflow_consumer_batch_duration_seconds", "Time to apply one batch, transaction included.", ["group"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RECORDS = Counter("leadflow_consumer_records_total", "Records consumed, by outcome.", ["group", "outcome"])
RETRIES = Counter("leadflow_consumer_transient_failures_total", "Batches retried after a transient failure.", ["group"])
LAG = Gauge("leadflow_consumer_lag_records", "Highwater minus position, per partition.", ["group", "topic", "partition"])


@dataclass(frozen=True, slots=True)
class Delivered:
    """A record and the event decoded from it."""

    record: ConsumerRecord
    event: CloudEvent[Any]


BatchHandler = Callable[[AsyncConnection, Sequence[Delivered]], Awaitable[None]]

_AFTER_COMMIT: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "leadflow_after_commit", default=None
)


def in_consumer_transaction() -> bool:
    """True inside a handler called by ``TransactionalConsumer`` (where ``call_after_commit`` works)."""
    return _AFTER_COMMIT.get() is not None


def call_after_commit(hook: Callable[[], None]) -> None:
    """Run ``hook`` once the consumer's current transaction has committed; never if it rolls back.

    For work that may only start once the effects are durable and visible, such as sending
    what the transaction recorded. Only inside a handler called by ``TransactionalConsumer``.
    """
    hooks = _AFTER_COMMIT.get()
    if hooks is None:
        raise RuntimeError("call_after_commit() works only inside a TransactionalConsumer handler")
    hooks.append(hook)


class OffsetStore:
    def __init__(self, table: Table, group_id: str) -> None:
        self.table = table
        self.group_id = group_id

    async def load(self, conn: AsyncConnection, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        t = self.table
        if not tps:
            return {}
        rows = await conn.execute(
            select(t.c.topic, t.c.partition, t.c.next_offset).where(
                t.c.group_id == self.group_id,
                tuple_(t.c.topic, t.c.partition).in_([(tp.topic, tp.partition) for tp in tps]),
            )
        )
        return {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}

    async def advance(self, conn: AsyncConnection, ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Lock these partitions' offset rows for this transaction, move each to ``max(stored, end)`` and return
        what was stored before (0 for a partition seen the first time).

        One statement in the usual case (the rows exist): a batch's offset bookkeeping is one round trip.
        """
        if not ends:
            return {}
        ordered = sorted(ends, key=lambda tp: (tp.topic, tp.partition))  # one lock order: no deadlocks
        before = await self._advance(conn, ordered, ends)
        missing = [tp for tp in ordered if tp not in before]
        if missing:  # a partition this group never applied: create its row, then advance it like the others
            t = self.table
            await conn.execute(
                insert(t)
                .values([{"group_id": self.group_id, "topic": tp.topic, "partition": tp.partition, "next_offset": 0}
                         for tp in missing])
                .on_conflict_do_nothing()
            )
            before |= await self._advance(conn, missing, ends)
        return before

    async def _advance(self, conn: AsyncConnection, tps: list[TopicPartition], ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        rows = await conn.execute(self._advance_sql, {
            "group_id": self.group_id, "topics": [tp.topic for tp in tps], "partitions": [tp.partition for tp in tps],
            "ends": [ends[tp] for tp in tps],
        })
        return {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}

    @functools.cached_property
    def _advance_sql(self) -> Any:
        # The sub-select locks the rows in one order and reads the stored offsets; the UPDATE returns those.
        return text(f"""
            UPDATE {self.table.fullname} AS t
               SET next_offset = GREATEST(old.next_offset, v.next_offset), updated_at = now()
              FROM (SELECT o.topic, o.partition, o.next_offset
                      FROM {self.table.fullname} AS o
                      JOIN unnest(CAST(:topics AS varchar[]), CAST(:partitions AS integer[])) AS w(topic, partition)
                        ON o.topic = w.topic AND o.partition = w.partition
                     WHERE o.group_id = :group_id
                     ORDER BY o.topic, o.partition
                       FOR UPDATE OF o) AS old
              JOIN unnest(CAST(:topics AS varchar[]), CAST(:partitions AS integer[]), CAST(:ends AS bigint[]))
                   AS v(topic, partition, next_offset)
                ON v.topic = old.topic AND v.partition = old.partition
             WHERE t.group_id = :group_id AND t.topic = old.topic AND t.partition = old.partition
         RETURNING old.topic, old.partition, old.next_offset
        """)


class _SeekToStoredOffsets(ConsumerRebalanceListener):
    def __init__(self, owner: TransactionalConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked", partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked))
        for tp in revoked:  # the new owner reports their lag; a stale value here would look like a stuck partition
            try:
                LAG.remove(self.owner.name, tp.topic, str(tp.partition))
            except KeyError:
                pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.owner.seek_to_stored(list(assigned))


@dataclass
class DeadLetter:
    record: ConsumerRecord
    error: str
    error_type: str


class TransactionalConsumer:
    def __init__(
        self,
        *,
        name: str,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        engine: AsyncEngine,
        offsets: OffsetStore,
        topics: Sequence[str],
        handler: BatchHandler,
        expected_types: Sequence[str],
        heartbeat: Heartbeat,
        after_commit: Callable[[], None] | None = None,
        poll_timeout_ms: int = 200,
        max_records: int = 1000,
    ) -> None:
        self.name = name
        self.consumer = consumer
        self.producer = producer
        self.engine = engine
        self.offsets = offsets
        self.topics = list(topics)
        self.handler = handler
        self.expected_types = list(expected_types)
        self.heartbeat = heartbeat
        self.after_commit = after_commit
        self.poll_timeout_ms = poll_timeout_ms
        self.max_records = max_records
        self._stopping = asyncio.Event()
        self._last_lag_report = 0.0
        self._known_lag = 0
        self._kafka_offsets: dict[TopicPartition, int] = {}
        self._kafka_committed_at = 0.0

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def seek_to_stored(self, tps: list[TopicPartition]) -> None:
        delay = 0.5
        while not self.stopping:
            try:
                async with self.engine.connect() as conn:
                    stored = await self.offsets.load(conn, tps)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("cannot read stored offsets, retrying", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
        else:
            return
        for tp in tps:
            if tp in stored:
                self.consumer.seek(tp, stored[tp])
            else:
                await self.consumer.seek_to_beginning(tp)
        log.info("partitions assigned", positions={f"{tp.topic}[{tp.partition}]": stored.get(tp, "beginning") for tp in tps})

    async def run(self) -> None:
        self.consumer.subscribe(self.topics, listener=_SeekToStoredOffsets(self))
        self.heartbeat.beat()
        while not self.stopping:
            try:
                batch = await self.consumer.getmany(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("poll failed, retrying", error=str(exc))
                await asyncio.sleep(1)
                continue
            if batch:
                await self._apply_with_retries(batch)
                self.heartbeat.beat()
            elif self._known_lag == 0:
                # Nothing to read and nothing behind: idle, not stuck. An empty poll while the
                # partitions have lag is how a silently stalled consumer looks; then liveness
                # fails after the heartbeat's silence limit and the process is restarted.
                self.heartbeat.beat()
            await self._report_lag()

    async def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_lag_report < 5:
            return
        self._last_lag_report = now
        total = 0
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            try:
                pos = await asyncio.wait_for(self.consumer.position(tp), 1)
            except Exception:
                continue  # the broker is away: that is readiness' business, not liveness'
            lag = max(high - pos, 0)
            total += lag
            LAG.labels(self.name, tp.topic, str(tp.partition)).set(lag)
        self._known_lag = total

    async def _apply_with_retries(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        records = [r for recs in batch.values() for r in recs]
        with tracing.consumer_span(
            [tp.topic for tp in batch], self.name, [tracing.header_value(r.headers) for r in records]
        ) as span:
            await self._apply_until_done(batch, span)

    async def _apply_until_done(self, batch: dict[TopicPartition, list[ConsumerRecord]], span: Any) -> None:
        delay = 0.2
        while True:
            started = time.perf_counter()
            try:
                applied = await self._apply(batch)
                BATCH_SIZE.labels(self.name).observe(applied)
                BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                RETRIES.labels(self.name).inc()
                span.add_event("transient failure; retrying", {"error.type": type(exc).__name__})
                log.warning("batch failed transiently; retrying without moving offsets", error=f"{type(exc).__name__}: {exc}"[:500], retry_in=delay)
                if self.stopping:
                    return
                self.heartbeat.beat()  # waiting for a dependency is not being stuck
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if self.after_commit:
            self.after_commit()
        # Offsets in Kafka are informative only (lag in standard tools); PostgreSQL holds the truth. So they
        # are committed at most once a second, not after every batch: a commit is a broker round trip the
        # next batch would wait for.
        self._kafka_offsets.update({tp: records[-1].offset + 1 for tp, records in batch.items()})
        now = time.monotonic()
        if now - self._kafka_committed_at < KAFKA_COMMIT_SECONDS:
            return
        self._kafka_committed_at = now
        assigned = self.consumer.assignment()
        commit = {tp: offset for tp, offset in self._kafka_offsets.items() if tp in assigned}
        self._kafka_offsets.clear()
        if commit:
            try:
                await self.consumer.commit(commit)
            except Exception as exc:
                log.debug("kafka offset commit skipped", error=str(exc))

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A transaction whose ``call_after_commit`` hooks run once it committed (and never if it rolled back)."""
        hooks: list[Callable[[], None]] = []
        token = _AFTER_COMMIT.set(hooks)
        try:
            async with self.engine.begin() as conn:
                yield conn
        finally:
            _AFTER_COMMIT.reset(token)
        for hook in hooks:
            try:
                hook()
            except Exception:  # the transaction stands; a hook only hurries work along
                log.exception("after-commit hook failed")

    def _decode(self, records: list[ConsumerRecord]) -> tuple[list[Delivered], list[DeadLetter]]:
        good, bad = [], []
        for rec in records:
            try:
                good.append(Delivered(rec, decode_event(rec.value, rec.headers, expected=self.expected_types)))
            except ContractViolation as exc:
                bad.append(DeadLetter(rec, str(exc), type(exc).__name__))
        return good, bad

    async def _apply(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> int:
        """Apply the whole batch in one transaction; fall back to one record at a time on a permanent error."""
        records = [r for recs in batch.values() for r in recs]
        good, bad = self._decode(records)
        try:
            with _event_id_bound(good if len(records) == 1 else ()):
                async with self._transaction() as conn:
                    fresh = await self._claim(conn, batch, good, bad)
                    if bad:
                        await self._dead_letter(bad)
                    if fresh:
                        await self.handler(conn, fresh)
            RECORDS.labels(self.name, "applied").inc(len(fresh))
            RECORDS.labels(self.name, "dead_lettered").inc(len(bad))
            return len(fresh)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("batch failed permanently; isolating the bad record", error=f"{type(exc).__name__}: {exc}"[:500])
            return await self._apply_one_by_one(batch, good)

    async def _apply_one_by_one(self, batch: dict[TopicPartition, list[ConsumerRecord]], good: list[Delivered]) -> int:
        applied = 0
        by_offset = {(d.record.topic, d.record.partition, d.record.offset): d for d in good}
        for tp, recs in batch.items():
            for rec in recs:
                delivered = by_offset.get((rec.topic, rec.partition, rec.offset))
                with tracing.consumer_span(
                    [rec.topic], self.name, [tracing.header_value(rec.headers)],
                    event_id=delivered.event.id if delivered else None,
                ):
                    applied += await self._apply_single(tp, rec, delivered)
        return applied

    async def _claim(
        self, conn: AsyncConnection, batch: dict[TopicPartition, list[ConsumerRecord]], good: list[Delivered], bad: list[DeadLetter]
    ) -> list[Delivered]:
        """Lock the partitions' offsets, drop records already applied, and advance the offsets."""
        stored = await self.offsets.advance(conn, {tp: recs[-1].offset + 1 for tp, recs in batch.items()})
        stale = {(tp.topic, tp.partition): off for tp, off in stored.items()}
        fresh = [d for d in good if d.record.offset >= stale.get((d.record.topic, d.record.partition), 0)]
        bad[:] = [b for b in bad if b.record.offset >= stale.get((b.record.topic, b.record.partition), 0)]
        skipped = len(good) - len(fresh)
        if skipped:
            log.info("records already applied by an earlier run were skipped", count=skipped)
        return fresh

    async def _apply_single(self, tp: TopicPartition, rec: ConsumerRecord, delivered: Delivered | None) -> int:
        single = {tp: [rec]}
        if delivered is None:  # undecodable: dead-letter it with its offset
            _, bad = self._decode([rec])
            async with self._transaction() as conn:
                await self._claim(conn, single, [], bad)
                if bad:
                    await self._dead_letter(bad)
            RECORDS.labels(self.name, "dead_lettered").inc(len(bad))
            return 0
        try:
            async with self._transaction() as conn:
                fresh = await self._claim(conn, single, [delivered], [])
                if fresh:
                    await self.handler(conn, fresh)
            RECORDS.labels(self.name, "applied").inc(len(fresh))
            return len(fresh)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.error("record failed permanently; dead-lettering it", topic=rec.topic, partition=rec.partition,
                      offset=rec.offset, error=f"{type(exc).__name__}: {exc}"[:500])
            letter = DeadLetter(rec, f"{type(exc).__name__}: {exc}", type(exc).__name__)
            async with self._transaction() as conn:
                if await self._claim(conn, single, [delivered], []):
                    await self._dead_letter([letter])
            RECORDS.labels(self.name, "dead_lettered").inc()
            return 0

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        """Publish to ``<topic>.dlq`` and wait for the acknowledgement before the offset may move."""
        futures = []
        for letter in letters:
            rec = letter.record
            headers = [
                ("leadflow-dlq-error", letter.error[:2000].encode()),
                ("leadflow-dlq-error-type", letter.error_type.encode()),
                ("leadflow-dlq-topic", rec.topic.encode()),
                ("leadflow-dlq-partition", str(rec.partition).encode()),
                ("leadflow-dlq-offset", str(rec.offset).encode()),
                ("leadflow-dlq-consumer-group", self.name.encode()),
                *[(k, v) for k, v in (rec.headers or ()) if not k.startswith("leadflow-dlq-")],
            ]
            log.warning("dead-lettering record", topic=rec.topic, partition=rec.partition, offset=rec.offset, error=letter.error[:300])
            futures.append(await self.producer.send(dead_letter_topic(rec.topic), value=rec.value, key=rec.key, headers=headers))
        await asyncio.gather(*futures)


@contextlib.contextmanager
def _event_id_bound(good: Sequence[Delivered]) -> Iterator[None]:
    """Bind ``event_id`` to the log lines while exactly one event is applied."""
    if len(good) != 1:
        yield
        return
    trace.get_current_span().set_attribute("messaging.message.id", good[0].event.id)
    with structlog.contextvars.bound_contextvars(event_id=good[0].event.id):
        yield
