"""Lead state and the touchpoints that change it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from leadflow_events import Stage

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Touchpoint:
    event_id: str
    type: str
    occurred_at: datetime
    email: str | None
    anonymous_id: str | None
    profile: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    properties: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    source_id: str | None = None

    @property
    def lead_key(self) -> str:
        return self.email if self.email else f"anon:{self.anonymous_id}"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One reason for points: ``dimension`` is ``fit`` or ``engagement``."""

    rule_id: str
    dimension: str
    points: int
    reason: str
    touchpoint_id: str | None = None
    capped: bool = False


@dataclass(frozen=True, slots=True)
class LeadState:
    lead_id: str
    lead_key: str
    email: str | None
    anonymous_id: str | None
    stage: Stage
    created_at: datetime
    updated_at: datetime
    stage_changed_at: datetime
    profile: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    engagement: int = 0
    fit: int = 0
    groups: Mapping[str, tuple[float, datetime]] = field(default_factory=lambda: EMPTY)
    """Per engagement group: its value at a reference time (exponential decay needs no more)."""
    rule_hits: Mapping[str, int] = field(default_factory=lambda: EMPTY)
    recent_hits: Mapping[str, tuple[datetime, ...]] = field(default_factory=lambda: EMPTY)
    """For rules limited per period: the times of their last hits."""
    rule_points: Mapping[str, int] = field(default_factory=lambda: EMPTY)
    touchpoint_count: int = 0
    fit_ledger: tuple[LedgerEntry, ...] = field(default=())
    disqualified_reason: str | None = None
    review_at: datetime | None = None
    """When decay will next move the lead (an MQL falling below the recycle line), if ever."""
    requalify_at: int | None = None
    """Set while sales has sent the lead back: the score it must reach to qualify again (a fast track needs none)."""

    @property
    def score(self) -> int:
        return self.fit + self.engagement
