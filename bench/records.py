"""Touchpoint records exactly as ingest makes them, built fast, and put on a topic in big batches.

Each touchpoint type's envelope comes from ingest's own ``build_event`` + ``encode_event``;
per record only the ids, times, lead and properties are swapped in, so a million records
take seconds rather than the minutes pydantic would need, and the bytes still match.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from leadflow_events import TOUCHPOINT_RECORDED_V1, decode_event, encode_event
from leadflow_ingest.contracts import TouchpointIn
from leadflow_ingest.publish import build_event
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS

# (type, weight): mostly page views and clicks, a few forms, downloads, webinars, demo requests.
MIX = [
    ("page_viewed", 40), ("email_clicked", 15), ("email_opened", 10), ("form_submitted", 6), ("content_downloaded", 8),
    ("webinar_attended", 4), ("newsletter_confirmed", 4), ("event_visited", 2), ("demo_requested", 2),
    ("survey_completed", 3), ("unsubscribed", 1),
]
PAGES = ["https://leadflow.example/pricing", "https://leadflow.example/careers", "https://leadflow.example/blog/scoring",
         "https://leadflow.example/docs/api", "https://leadflow.example/"]
TITLES = ["Head of Sales", "Marketing Manager", "CTO", "Student", "Engineer", "VP Marketing"]


def lead_email(n: int) -> str:
    domain = "gmail.com" if n % 5 == 0 else f"company{n % 97}.example"
    return f"lead{n}@{domain}"


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def random_touchpoint(rng: random.Random) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """Event id, type, properties and profile (empty four times in five) of one touchpoint from ``MIX``."""
    kinds, weights = zip(*MIX)
    kind = rng.choices(kinds, weights)[0]
    props: dict[str, Any] = {}
    if kind == "page_viewed":
        props["page_url"] = PAGES[rng.randrange(len(PAGES))]
    elif kind in ("form_submitted", "demo_requested"):
        props["form_id"] = kind.split("_")[0]
    profile = {"job_title": TITLES[rng.randrange(len(TITLES))], "company_size": rng.choice((5, 60, 500))} \
        if rng.random() < 0.2 else {}
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)), kind, props, profile


class RecordFactory:
    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.templates: dict[str, dict[str, Any]] = {}
        for kind, _ in MIX:
            item = TouchpointIn(type=kind, email="template@example.com")
            self.templates[kind] = orjson.loads(encode_event(build_event(item, str(uuid.uuid4()), now, None)))

    def value(self, event_id: str, kind: str, email: str, at: datetime, properties: dict[str, Any],
              profile: dict[str, Any] | None) -> bytes:
        tpl = self.templates[kind]
        data = dict(tpl["data"])
        stamp = _iso(at)
        data["occurred_at"] = data["received_at"] = stamp
        data["identity"] = {"email": email, "anonymous_id": None}
        data["properties"] = properties
        if profile:
            data["profile"] = {**tpl["data"]["profile"], **profile}
        return orjson.dumps({**tpl, "id": event_id, "time": stamp, "subject": email, "data": data})

    def stream(self, count: int, leads: int, *, seed: int, start: datetime | None = None,
               lead_numbers: list[int] | None = None) -> Iterator[tuple[bytes, bytes]]:
        """``count`` touchpoints over ``leads`` leads (or over the given lead numbers), in time order."""
        rng = random.Random(seed)
        start = start or datetime.now(UTC) - timedelta(hours=2)
        step = timedelta(seconds=3600 / max(count, 1))  # within the last two hours: no decay review fires
        for i in range(count):
            n = lead_numbers[rng.randrange(len(lead_numbers))] if lead_numbers else rng.randrange(leads)
            email = lead_email(n)
            event_id, kind, props, profile = random_touchpoint(rng)
            yield email.encode(), self.value(event_id, kind, email, start + step * i, props, profile or None)


def check_contract(value: bytes) -> None:
    """A record built here must decode as the consumers decode it."""
    event = decode_event(value, CLOUDEVENT_HEADERS, expected=[TOUCHPOINT_RECORDED_V1])
    assert event.data.identity.email, "record without a lead"


class _UnknownTopicYet(logging.Filter):
    """Right after creation a topic can be missing from the first metadata answers; aiokafka logs each of those
    as an error while it waits. Expected here, so not printed."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "not found in cluster metadata" not in record.getMessage()


async def _partitions_of_new_topic(producer: AIOKafkaProducer, topic: str) -> set[int]:
    quiet = _UnknownTopicYet()
    logger = logging.getLogger("aiokafka.cluster")
    logger.addFilter(quiet)
    try:
        return await asyncio.wait_for(producer.partitions_for(topic), 60)
    finally:
        logger.removeFilter(quiet)


async def produce_all(bootstrap: str, topic: str, records: Iterator[tuple[bytes, bytes]], *, in_flight: int = 24) -> int:
    """Put records on the topic in big per-partition batches, partitioned by key as ingest's producer does."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1024 * 1024,
                                max_request_size=8 * 1024 * 1024, request_timeout_ms=60_000, client_id="leadflow-bench")
    await producer.start()
    partitioner = DefaultPartitioner()
    headers = list(CLOUDEVENT_HEADERS)
    sent = 0
    try:
        partitions = sorted(await _partitions_of_new_topic(producer, topic))
        builders = {p: producer.create_batch() for p in partitions}
        pending: list[asyncio.Future[Any]] = []

        async def ship(p: int) -> None:
            pending.append(await producer.send_batch(builders[p], topic, partition=p))
            builders[p] = producer.create_batch()
            if len(pending) >= in_flight:
                await asyncio.gather(*pending)
                pending.clear()

        for key, value in records:
            p = partitioner(key, partitions, partitions)
            if builders[p].append(key=key, value=value, timestamp=None, headers=headers) is None:
                await ship(p)
                builders[p].append(key=key, value=value, timestamp=None, headers=headers)
            sent += 1
        for p in partitions:
            if builders[p].record_count():
                await ship(p)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent
