"""Optional facts a stage event may carry beyond the fields ``leadflow-events`` decodes today.

``leadflow.lead.stage_changed.v1`` has no grade, no lead properties and no touchpoints
yet. Adding them is an additive change within v1, so they are read from the raw record
when present and left empty when not - the handover never calls scoring back:

- ``data.grade``                    e.g. ``"A2"``
- ``data.lead.properties``          free lead properties, e.g. ``{"product_interest": "analytics"}``
- ``data.recent_touchpoints``       a list of ``{"type", "occurred_at", ...}``, newest first
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_TOUCHPOINTS = 10


@dataclass(frozen=True)
class StageExtras:
    grade: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    recent_touchpoints: list[dict[str, Any]] | None = None  # None: the event does not carry them


def extras_of(value: bytes | None) -> StageExtras:
    try:
        data = orjson.loads(value or b"{}").get("data") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return StageExtras()
    if not isinstance(data, dict):
        return StageExtras()
    grade = data.get("grade")
    lead = data.get("lead") if isinstance(data.get("lead"), dict) else {}
    properties = lead.get("properties") if isinstance(lead.get("properties"), dict) else {}
    touchpoints = data.get("recent_touchpoints")
    return StageExtras(
        grade=grade if isinstance(grade, str) and grade else None,
        properties=properties,
        recent_touchpoints=[t for t in touchpoints if isinstance(t, dict)][:MAX_TOUCHPOINTS] if isinstance(touchpoints, list) else None,
    )
