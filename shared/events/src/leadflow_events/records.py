"""Turning events into Kafka record values and back (CloudEvents Kafka binding, structured mode)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

import orjson
from pydantic import BaseModel, ValidationError

from leadflow_events.envelope import EVENT_CONTENT_TYPE, CloudEvent
from leadflow_events.errors import ContractViolation, UnknownEventType
from leadflow_events.feedback import (
    HANDOVER_ASSIGNED_V1, HANDOVER_FEEDBACK_RECORDED_V1, HANDOVER_SLA_BREACHED_V1, HandoverAssigned, HandoverFeedbackRecorded,
    HandoverSlaBreached,
)
from leadflow_events.privacy import LEAD_ERASED_V1, LeadErased
from leadflow_events.stages import LEAD_STAGE_CHANGED_V1, LeadStageChanged
from leadflow_events.touchpoints import TOUCHPOINT_RECORDED_V1, TouchpointRecorded

PAYLOADS: dict[str, type[BaseModel]] = {
    TOUCHPOINT_RECORDED_V1: TouchpointRecorded,
    LEAD_STAGE_CHANGED_V1: LeadStageChanged,
    LEAD_ERASED_V1: LeadErased,
    HANDOVER_FEEDBACK_RECORDED_V1: HandoverFeedbackRecorded,
    HANDOVER_SLA_BREACHED_V1: HandoverSlaBreached,
    HANDOVER_ASSIGNED_V1: HandoverAssigned,
}
CONTENT_TYPE_HEADER = ("content-type", EVENT_CONTENT_TYPE.encode())
_VERSIONED = re.compile(r"^(?P<family>.+)\.v(?P<major>[0-9]+)$")


def _majors_known() -> dict[str, list[int]]:
    """``{"leadflow.lead.stage_changed": [1], ...}``: the major versions this package reads, per type family."""
    known: dict[str, list[int]] = {}
    for event_type in PAYLOADS:
        match = _VERSIONED.match(event_type)
        if match:
            known.setdefault(match["family"], []).append(int(match["major"]))
    return {family: sorted(majors) for family, majors in known.items()}


def _unknown_type(event_type: object) -> UnknownEventType:
    """Say precisely why ``event_type`` cannot be read: a newer or retired major version, or a type never known."""
    match = _VERSIONED.match(event_type) if isinstance(event_type, str) else None
    majors = _majors_known().get(match["family"], []) if match else []
    if match and majors:
        major, versions = int(match["major"]), ", ".join(f"v{m}" for m in majors)
        if major > majors[-1]:
            return UnknownEventType(
                f"unknown event type: {event_type} is a newer major version than this package knows "
                f"({versions}); upgrade leadflow-events",
                event_type=event_type, newer_version=True,
            )
        return UnknownEventType(
            f"unknown event type: {event_type} is a major version this package does not read (it reads {versions})",
            event_type=event_type,
        )
    known = ", ".join(sorted(PAYLOADS))
    return UnknownEventType(
        f"unknown event type {event_type!r}; this consumer knows {known}",
        event_type=event_type if isinstance(event_type, str) else None,
    )


def encode_event(event: CloudEvent[Any]) -> bytes:
    """Structured mode; unset optional envelope attributes are left out, payload nulls are kept."""
    raw = event.model_dump(mode="json")
    return orjson.dumps({k: v for k, v in raw.items() if v is not None or k == "data"})


def _header(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None, name: str) -> str | None:
    if headers is None:
        return None
    # lists and tuples (what Kafka clients give) first: the check against the Mapping ABC costs on every record
    items = headers if isinstance(headers, (list, tuple)) else headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


_EVENT_CLASSES: dict[str, type[CloudEvent[Any]]] = {}


def _event_class(event_type: str, payload: type[Any]) -> type[CloudEvent[Any]]:
    """``CloudEvent[payload]``, parametrised once per type: pydantic's generic lookup costs on every call."""
    cls = _EVENT_CLASSES.get(event_type)
    if cls is None:
        cls = _EVENT_CLASSES[event_type] = CloudEvent[payload]  # type: ignore[valid-type]
    return cls


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
        raise _unknown_type(event_type)
    if expected is not None and event_type not in set(expected):
        raise UnknownEventType(f"event type {event_type!r} is not expected on this topic", event_type=event_type)
    try:
        return _event_class(event_type, payload).model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ContractViolation(f"{event_type} violates its schema: {problems}") from exc


class KafkaRecord(Protocol):
    """What ``parse_record`` needs of a consumed record; aiokafka's ``ConsumerRecord`` has it."""

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


def parse_record(record: KafkaRecord, *, expected: Iterable[str] | None = None) -> CloudEvent[Any]:
    """``decode_event`` for a consumed record (e.g. aiokafka's ``ConsumerRecord``)."""
    return decode_event(record.value, record.headers, expected=expected)


def parse_stage_changed(record: KafkaRecord) -> CloudEvent[LeadStageChanged]:
    """A record of the lead-stages topic as a typed ``leadflow.lead.stage_changed.v1`` event.

    Raises ``UnknownEventType`` for any other type (``newer_version`` tells a newer major
    version apart) and ``ContractViolation`` for a record that breaks the contract.
    """
    return cast(CloudEvent[LeadStageChanged], parse_record(record, expected=[LEAD_STAGE_CHANGED_V1]))
