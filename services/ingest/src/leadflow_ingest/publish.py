"""Builds touchpoint events and publishes them, answering only after Kafka acknowledged."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
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


def build_event(item: TouchpointIn, event_id: str, now: datetime, traceparent: str | None) -> CloudEvent[TouchpointRecorded]:
    """The ``touchpoint.recorded`` event of an accepted touchpoint.

    Validated as one nested document (one call into pydantic-core, not one model at a time): the hot
    path of every ingest route; the same event as building each model in turn.
    """
    occurred_at = item.occurred_at or now
    return TouchpointEvent.model_validate({
        "id": event_id, "source": SOURCE, "type": TOUCHPOINT_RECORDED_V1, "time": occurred_at,
        "subject": item.email if item.email else f"anon:{item.anonymous_id}",  # LeadIdentity.lead_key
        "dataschema": DATASCHEMA, "traceparent": traceparent,
        "data": {
            "touchpoint_type": item.type, "occurred_at": occurred_at,
            "identity": {"email": item.email, "anonymous_id": item.anonymous_id},
            "profile": item.profile.model_dump(), "properties": item.properties, "source_id": item.source_id,
            "consent": item.consent, "received_at": now,
        },
    })


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

    async def publish(self, events: Sequence[CloudEvent[TouchpointRecorded]]) -> None:
        if not self.started or self.producer is None:
            PRODUCE_ERRORS.labels("not_connected").inc()
            raise KafkaUnavailable("not connected to Kafka yet")
        try:
            with tracing.producer_span(self.topic, len(events)):
                await self._send_all(events)
        except (KafkaError, asyncio.TimeoutError, TimeoutError, OSError) as exc:
            PRODUCE_ERRORS.labels(type(exc).__name__).inc()
            raise KafkaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        for event in events:
            PUBLISHED.labels(event.data.touchpoint_type.value).inc()

    async def _send_all(self, events: Sequence[CloudEvent[TouchpointRecorded]]) -> None:
        """Wait at most ``timeout`` for every acknowledgement.

        The producer's own futures are never cancelled: cancelling them mid-flight can wedge
        the idempotent producer after a broker restart. A record still in flight when we give
        up may yet be written; the client's retry carries the same event id (Idempotency-Key
        or event_id) and is deduplicated downstream.
        """
        assert self.producer is not None
        deadline = asyncio.get_running_loop().time() + self.timeout
        futures = []
        # send() itself waits for metadata and buffer space; bound that wait (one timeout for the whole loop, not a
        # task per record) without cancelling delivery: what was handed to the producer stays with it
        async with asyncio.timeout_at(deadline):
            for event in events:
                futures.append(await self.producer.send(
                    self.topic, value=encode_event(event), key=event.data.identity.lead_key.encode(),
                    headers=cloudevent_headers(event.traceparent),
                ))
        remaining = deadline - asyncio.get_running_loop().time()
        done, pending = await asyncio.wait(futures, timeout=max(remaining, 0.001))
        if pending:
            raise asyncio.TimeoutError(f"{len(pending)} of {len(futures)} records not acknowledged in {self.timeout:g} s")
        for fut in done:
            fut.result()  # raise the first delivery error, if any


def utcnow() -> datetime:
    return datetime.now(UTC)
