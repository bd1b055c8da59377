"""Builds touchpoint events and publishes them, answering only after Kafka acknowledged."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Counter

from leadflow_events import (
    TOUCHPOINT_RECORDED_V1, CloudEvent, TouchpointRecorded, encode_event,
)
from leadflow_runtime import tracing
from leadflow_runtime.kafka import cloudevent_headers

from leadflow_ingest.contracts import TouchpointIn

SOURCE = "/leadflow/ingest"
DATASCHEMA = "https://leadflow.dev/schemas/leadflow.touchpoint.recorded.v1.schema.json"
EVENT_NAMESPACE = uuid.UUID("6f1f4a4e-4c45-4144-8a46-4c4f57000003")
TouchpointEvent = CloudEvent[TouchpointRecorded]  # parametrised once: pydantic's generic lookup costs per call

OWN_BATCHES_FROM = 16  # fewer records (the single POSTs) go through send(), whose linger batches concurrent requests
PUBLISHED = Counter("leadflow_ingest_touchpoints_total", "Touchpoints acknowledged by Kafka.", ["type"])
PRODUCE_ERRORS = Counter("leadflow_ingest_produce_errors_total", "Publishes that failed or timed out.", ["reason"])


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge in time; nothing may be reported as accepted."""


def event_id_for(item: TouchpointIn, idempotency_key: str | None, index: int = 0) -> str:
    """A sender's id (or Idempotency-Key) always maps to the same event id, so retries dedupe downstream."""
    if item.event_id:
        return str(uuid.uuid5(EVENT_NAMESPACE, f"{item.source_id or ''}:{item.event_id}"))
    if idempotency_key:
        return str(uuid.uuid5(EVENT_NAMESPACE, f"idem:{idempotency_key}:{index}"))
    return str(uuid.uuid4())


def imported_event_id(source_id: str, event_name: str, event_date: date, email: str) -> str:
    """One person at one event of one source is one touchpoint, however often the list is imported."""
    event = " ".join(event_name.split()).casefold()
    return str(uuid.uuid5(EVENT_NAMESPACE, f"import:{source_id}:{event_date.isoformat()}:{event}:{email}"))


@dataclass(frozen=True, slots=True)
class EncodedTouchpoint:
    """A touchpoint event as Kafka gets it: the encoded CloudEvent and what the publisher needs besides."""

    id: str
    lead_key: str
    touchpoint_type: str
    traceparent: str | None
    value: bytes

    @classmethod
    def of(cls, event: CloudEvent[TouchpointRecorded]) -> EncodedTouchpoint:
        return cls(event.id, event.data.identity.lead_key, event.data.touchpoint_type.value, event.traceparent,
                   encode_event(event))


def encode_touchpoint(item: TouchpointIn, event_id: str, now: datetime, traceparent: str | None) -> EncodedTouchpoint:
    """The ``touchpoint.recorded`` event of an accepted touchpoint, encoded without building the event models
    (every ingest path does this per touchpoint).

    Writes what ``encode_event`` writes for the event (field order, left-out envelope attributes, kept payload
    nulls, RFC 3339 times with ``Z`` for UTC); ``tests/unit/test_touchpoint_events.py`` holds it to the bytes
    of the event built model by model.
    """
    occurred_at = item.occurred_at or now
    lead_key = item.email if item.email else f"anon:{item.anonymous_id}"
    doc: dict[str, Any] = {
        "specversion": "1.0", "id": event_id, "source": SOURCE, "type": TOUCHPOINT_RECORDED_V1, "time": occurred_at,
        "subject": lead_key, "datacontenttype": "application/json", "dataschema": DATASCHEMA,
    }
    if traceparent is not None:
        doc["traceparent"] = traceparent
    doc["data"] = {
        "touchpoint_type": item.type.value, "occurred_at": occurred_at,
        "identity": {"email": item.email, "anonymous_id": item.anonymous_id},
        "profile": item.profile.model_dump(mode="json"), "properties": item.properties, "source_id": item.source_id,
        "consent": item.consent.model_dump(mode="json") if item.consent is not None else None, "received_at": now,
    }
    return EncodedTouchpoint(event_id, lead_key, item.type.value, traceparent, orjson.dumps(doc, option=orjson.OPT_UTC_Z))


def encode_batch(items: Sequence[TouchpointIn], idempotency_key: str | None, traceparent: str | None) -> list[EncodedTouchpoint]:
    """A batch's touchpoints, received now; with an Idempotency-Key each keeps its position's event id."""
    now = utcnow()
    return [encode_touchpoint(item, event_id_for(item, idempotency_key, i), now, traceparent) for i, item in enumerate(items)]


def build_event(item: TouchpointIn, event_id: str, now: datetime, traceparent: str | None) -> CloudEvent[TouchpointRecorded]:
    """The same event as a model (for code that reads it), decoded from the one encoding above."""
    return TouchpointEvent.model_validate_json(encode_touchpoint(item, event_id, now, traceparent).value)


def recorded_event(data: TouchpointRecorded, event_id: str, traceparent: str | None) -> CloudEvent[TouchpointRecorded]:
    return TouchpointEvent(
        id=event_id, source=SOURCE, type=TOUCHPOINT_RECORDED_V1, time=data.occurred_at,
        subject=data.identity.lead_key, dataschema=DATASCHEMA, traceparent=traceparent, data=data,
    )


class TouchpointPublisher:
    def __init__(self, producer: AIOKafkaProducer | None, topic: str, timeout: float) -> None:
        self.producer = producer
        self.topic = topic
        self.timeout = timeout
        self.started = False
        self._partitioner = DefaultPartitioner()

    async def publish(self, events: Sequence[CloudEvent[TouchpointRecorded] | EncodedTouchpoint]) -> None:
        records = [e if isinstance(e, EncodedTouchpoint) else EncodedTouchpoint.of(e) for e in events]
        if not self.started or self.producer is None:
            PRODUCE_ERRORS.labels("not_connected").inc()
            raise KafkaUnavailable("not connected to Kafka yet")
        try:
            with tracing.producer_span(self.topic, len(records)):
                await self._send_all(records)
        except (KafkaError, asyncio.TimeoutError, TimeoutError, OSError) as exc:
            PRODUCE_ERRORS.labels(type(exc).__name__).inc()
            raise KafkaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        for record in records:
            PUBLISHED.labels(record.touchpoint_type).inc()

    async def _send_batches(self, records: Sequence[EncodedTouchpoint]) -> list[asyncio.Future[Any]]:
        """Many records: fill one record batch per partition (aiokafka's ``create_batch``/``send_batch``) instead
        of a ``send()``, a future and a partitioner call in Python per record - half the client's CPU per record.

        Partitions are chosen by the producer's own default partitioner over the same sorted partition list, so
        a lead's touchpoints land on the partition ``send()`` would have picked, in order.
        """
        assert self.producer is not None
        partitions = sorted(await self.producer.partitions_for(self.topic))
        builders: dict[int, Any] = {}
        futures = []
        for r in records:
            key = r.lead_key.encode()
            partition = self._partitioner(key, partitions, partitions)
            builder = builders.get(partition)
            if builder is None:
                builder = builders[partition] = self.producer.create_batch()
            headers = cloudevent_headers(r.traceparent)
            if builder.append(key=key, value=r.value, timestamp=None, headers=headers) is None:  # full: send it
                futures.append(await self.producer.send_batch(builder, self.topic, partition=partition))
                builder = builders[partition] = self.producer.create_batch()
                if builder.append(key=key, value=r.value, timestamp=None, headers=headers) is None:
                    raise ValueError(f"touchpoint {r.id} is larger than a Kafka record batch")
        for partition, builder in builders.items():
            futures.append(await self.producer.send_batch(builder, self.topic, partition=partition))
        return futures

    async def _send_all(self, records: Sequence[EncodedTouchpoint]) -> None:
        """Wait at most ``timeout`` for every acknowledgement.

        The producer's own futures are never cancelled: cancelling them mid-flight can wedge
        the idempotent producer after a broker restart. A record still in flight when we give
        up may yet be written; the client's retry carries the same event id (Idempotency-Key
        or event_id) and is deduplicated downstream.
        """
        assert self.producer is not None
        deadline = asyncio.get_running_loop().time() + self.timeout
        # send() itself waits for metadata and buffer space; bound that wait (one timeout for the whole loop, not a
        # task per record) without cancelling delivery: what was handed to the producer stays with it
        async with asyncio.timeout_at(deadline):
            if len(records) >= OWN_BATCHES_FROM:
                futures = await self._send_batches(records)
            else:
                futures = [
                    await self.producer.send(self.topic, value=r.value, key=r.lead_key.encode(),
                                             headers=cloudevent_headers(r.traceparent))
                    for r in records
                ]
        remaining = deadline - asyncio.get_running_loop().time()
        done, pending = await asyncio.wait(futures, timeout=max(remaining, 0.001))
        if pending:
            raise asyncio.TimeoutError(f"{len(pending)} of {len(futures)} records not acknowledged in {self.timeout:g} s")
        for fut in done:
            fut.result()  # raise the first delivery error, if any


def utcnow() -> datetime:
    return datetime.now(UTC)
