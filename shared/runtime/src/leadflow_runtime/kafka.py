"""Kafka clients with the settings this design needs (aiokafka's defaults are unsafe for it)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from leadflow_events import EVENT_CONTENT_TYPE

MAX_BATCH_BYTES = 512 * 1024
CLOUDEVENT_HEADERS = [("content-type", EVENT_CONTENT_TYPE.encode())]


def cloudevent_headers(traceparent: str | None) -> list[tuple[str, bytes]]:
    """Record headers of a structured-mode CloudEvent; trace context goes in ``traceparent``."""
    headers = list(CLOUDEVENT_HEADERS)
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return headers


def make_producer(bootstrap: str, *, client_id: str, linger_ms: int = 0, request_timeout_ms: int = 30_000) -> AIOKafkaProducer:
    """Idempotent producer: acks=all, so an acknowledged record survives a broker crash."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        request_timeout_ms=request_timeout_ms,
        retry_backoff_ms=200,
        max_batch_size=MAX_BATCH_BYTES,
    )


def make_consumer(bootstrap: str, *, group_id: str, client_id: str, max_poll_records: int = 1000) -> AIOKafkaConsumer:
    """Manual offsets (stored in PostgreSQL with the effects), from the beginning when none are stored."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=max_poll_records,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
        max_poll_interval_ms=120_000,
        retry_backoff_ms=200,
    )
