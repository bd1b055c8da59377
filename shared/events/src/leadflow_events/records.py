"""Turning events into Kafka record values and back (CloudEvents Kafka binding, structured mode)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from leadflow_events.envelope import EVENT_CONTENT_TYPE, CloudEvent
from leadflow_events.errors import ContractViolation, UnknownEventType
from leadflow_events.stages import LEAD_STAGE_CHANGED_V1, LeadStageChanged
from leadflow_events.touchpoints import TOUCHPOINT_RECORDED_V1, TouchpointRecorded

PAYLOADS: dict[str, type[BaseModel]] = {
    TOUCHPOINT_RECORDED_V1: TouchpointRecorded,
    LEAD_STAGE_CHANGED_V1: LeadStageChanged,
}
CONTENT_TYPE_HEADER = ("content-type", EVENT_CONTENT_TYPE.encode())


def encode_event(event: CloudEvent[Any]) -> bytes:
    """Structured mode; unset optional envelope attributes are left out, payload nulls are kept."""
    raw = event.model_dump(mode="json")
    return orjson.dumps({k: v for k, v in raw.items() if v is not None or k == "data"})


def _header(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None, name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for key, value in items:
        if key.lower() == name:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


def decode_event(
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None = None,
    *,
    expected: Iterable[str] | None = None,
) -> CloudEvent[Any]:
    """Parse a structured-mode record into a typed event, or raise ContractViolation saying why."""
    content_type = _header(headers, "content-type")
    if content_type is not None and not content_type.startswith(EVENT_CONTENT_TYPE):
        raise ContractViolation(f"content-type {content_type!r} is not {EVENT_CONTENT_TYPE}")
    if not value:
        raise ContractViolation("record has no value")
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ContractViolation(f"record value is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ContractViolation("record value is not a JSON object")
    event_type = raw.get("type")
    payload = PAYLOADS.get(event_type) if isinstance(event_type, str) else None
    if payload is None:
        known = ", ".join(sorted(PAYLOADS))
        raise UnknownEventType(f"unknown event type {event_type!r}; this consumer knows {known}")
    if expected is not None and event_type not in set(expected):
        raise UnknownEventType(f"event type {event_type!r} is not expected on this topic")
    try:
        return CloudEvent[payload].model_validate(raw)  # type: ignore[valid-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ContractViolation(f"{event_type} violates its schema: {problems}") from exc
