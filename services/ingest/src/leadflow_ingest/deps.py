"""What the routes share: the source of a path, its rate limit, and publishing with a 503 when Kafka does not ack."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Path, Request

from leadflow_events import CloudEvent, TouchpointRecorded
from leadflow_runtime.problems import Problem

from leadflow_ingest.auth import registry_unavailable
from leadflow_ingest.publish import EncodedTouchpoint, KafkaUnavailable, TouchpointPublisher
from leadflow_ingest.ratelimit import RATE_LIMITED, TokenBuckets, retry_after
from leadflow_ingest.registry import RegistryUnavailable, SourceRegistry
from leadflow_ingest.sources import SOURCE_ID_PATTERN, Source

SourceId = Annotated[str, Path(pattern=SOURCE_ID_PATTERN, description="The source's id.", examples=["website"])]


async def source_or_404(request: Request, source_id: str, headers: dict[str, str] | None = None) -> Source:
    registry: SourceRegistry = request.app.state.registry
    try:
        source = await registry.source(source_id)
    except RegistryUnavailable as exc:
        raise registry_unavailable(request, exc) from exc
    if source is None:
        raise Problem(404, f"There is no source `{source_id}`; create it with POST /v1/sources or in the sources file.",
                      type_="https://leadflow.dev/problems/unknown-source", headers=headers)
    return source


def wrong_endpoint(source: Source, headers: dict[str, str] | None = None) -> Problem:
    return Problem(404, f"Source `{source.id}` is a `{source.kind}` source; it receives touchpoints at {source.endpoint}.",
                   type_="https://leadflow.dev/problems/wrong-endpoint", headers=headers)


def take_rate_limit(request: Request, source: Source, headers: dict[str, str] | None = None) -> None:
    buckets: TokenBuckets = request.app.state.rate_limits
    wait = buckets.take(source.id, source.rate_limit_per_minute)
    if wait > 0:
        RATE_LIMITED.labels(source.kind.value).inc()
        raise Problem(
            429, f"Source `{source.id}` allows {source.rate_limit_per_minute} requests a minute; try again in "
            f"{retry_after(wait)} s.", type_="https://leadflow.dev/problems/rate-limited",
            headers={**(headers or {}), "Retry-After": retry_after(wait)},
        )


async def publish_or_503(
    request: Request, events: Sequence[EncodedTouchpoint | CloudEvent[TouchpointRecorded]], headers: dict[str, str] | None = None
) -> None:
    publisher: TouchpointPublisher = request.app.state.publisher
    try:
        await publisher.publish(events)
    except KafkaUnavailable as exc:
        raise kafka_unavailable(request, exc, headers) from exc


def kafka_unavailable(request: Request, exc: KafkaUnavailable, headers: dict[str, str] | None = None) -> Problem:
    retry = request.app.state.settings.ingest_retry_after_seconds
    return Problem(
        503, f"The touchpoint was not accepted because Kafka did not acknowledge it ({exc}). Send it again later.",
        type_="https://leadflow.dev/problems/kafka-unavailable", headers={**(headers or {}), "Retry-After": str(retry)},
    )
