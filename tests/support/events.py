"""Builds touchpoint events as ingest would, for tests that write to Kafka directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow_events import (
    TOUCHPOINT_RECORDED_V1, CloudEvent, LeadIdentity, LeadProfile, TouchpointRecorded, TouchpointType, encode_event,
)
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def touchpoint(kind: str, email: str, n: int = 0, *, event_id: str | None = None, profile: dict[str, Any] | None = None,
               at: datetime | None = None, **properties: Any) -> CloudEvent[TouchpointRecorded]:
    at = at or T0 + timedelta(seconds=n)
    data = TouchpointRecorded(
        touchpoint_type=TouchpointType(kind), occurred_at=at, received_at=at, identity=LeadIdentity(email=email),
        profile=LeadProfile(**(profile or {})), properties=properties,
    )
    return CloudEvent[TouchpointRecorded](
        id=event_id or str(uuid.uuid4()), source="/tests", type=TOUCHPOINT_RECORDED_V1, time=at, subject=email, data=data,
    )


def record(event: CloudEvent[TouchpointRecorded]) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return event.data.identity.lead_key.encode(), encode_event(event), list(CLOUDEVENT_HEADERS)
