"""The scoring model: fit rules (who the lead is), engagement rules (what they did), stage thresholds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any

OPERATORS = (
    "equals", "not_equals", "in", "not_in", "contains", "prefix", "suffix", "regex",
    "gt", "gte", "lt", "lte", "url_matches", "exists",
)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Condition:
    """``field`` is a path: ``properties.page_url``, ``profile.job_title``, ``email_domain``."""

    field: str
    op: str
    value: Any = None
    _pattern: re.Pattern[str] | None = None
    _text: str = ""  # the value as the string operators compare it (lower case), worked out once

    @staticmethod
    def make(field: str, op: str, value: Any = None) -> Condition:
        if op not in OPERATORS:
            raise ValueError(f"unknown operator {op!r}")
        pattern = re.compile(value, re.IGNORECASE) if op == "regex" else None
        if op in ("in", "not_in"):
            value = frozenset(str(v).lower() for v in value)
        return Condition(field, op, value, pattern)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_text", str(self.value).lower())

    def matches(self, facts: Mapping[str, Any]) -> bool:
        actual = facts.get(self.field)
        op = self.op
        if op == "exists":
            return (actual not in (None, "")) == bool(self.value if self.value is not None else True)
        if actual is None:
            return op in ("not_equals", "not_in")
        text = actual.lower() if type(actual) is str else str(actual).lower()
        if op == "equals":
            return text == self._text
        if op == "not_equals":
            return text != self._text
        if op == "in":
            return text in self.value
        if op == "not_in":
            return text not in self.value
        if op == "contains":
            return self._text in text
        if op == "prefix":
            return text.startswith(self._text)
        if op == "suffix":
            return text.endswith(self._text)
        if op == "regex":
            assert self._pattern is not None
            return self._pattern.search(str(actual)) is not None
        if op == "url_matches":
            return fnmatchcase(text, self._text)
        number, bound = _number(actual), _number(self.value)
        if number is None or bound is None:
            return False
        return {"gt": number > bound, "gte": number >= bound, "lt": number < bound, "lte": number <= bound}[op]


def all_match(conditions: tuple[Condition, ...], facts: Mapping[str, Any]) -> bool:
    for condition in conditions:
        if not condition.matches(facts):
            return False
    return True


@dataclass(frozen=True, slots=True)
class FitRule:
    """Points for who the lead is; counted once, recomputed from the current profile."""

    id: str
    points: int
    reason: str
    when: tuple[Condition, ...]

    def applies(self, facts: Mapping[str, Any]) -> bool:
        return all_match(self.when, facts)


@dataclass(frozen=True, slots=True)
class Group:
    """A named pot of engagement points: its own half-life and its own cap."""

    name: str
    half_life_days: float | None = None
    cap: int | None = None

    def decay(self, value: float, days: float) -> float:
        if self.half_life_days is None or days <= 0:
            return value
        return value * 0.5 ** (days / self.half_life_days)


@dataclass(frozen=True, slots=True)
class HitLimit:
    """At most ``count`` hits, or at most ``count`` hits within any ``days``-long window."""

    count: int
    days: float | None = None


@dataclass(frozen=True, slots=True)
class EngagementRule:
    """Points for what the lead did: a touchpoint of type ``on`` that meets ``when``."""

    id: str
    on: str
    points: int
    reason: str
    when: tuple[Condition, ...] = ()
    limit: HitLimit | None = None
    group: str = "engagement"

    def applies(self, facts: Mapping[str, Any]) -> bool:
        return all_match(self.when, facts)


@dataclass(frozen=True, slots=True)
class FastTrack:
    """A touchpoint that makes a lead with enough fit sales qualified at once (a demo request)."""

    id: str
    on: str
    min_fit: int
    reason: str
    when: tuple[Condition, ...] = ()

    def applies(self, facts: Mapping[str, Any]) -> bool:
        return all_match(self.when, facts)


@dataclass(frozen=True, slots=True)
class Disqualifier:
    """A hard stop: the lead is disqualified with a reason and never qualifies again."""

    id: str
    reason: str
    on: str | None = None  # a touchpoint type, or any
    when: tuple[Condition, ...] = ()

    def applies(self, touchpoint_type: str, facts: Mapping[str, Any]) -> bool:
        return (self.on is None or self.on == touchpoint_type) and all_match(self.when, facts)


@dataclass(frozen=True, slots=True)
class Thresholds:
    mql: int
    sql: int
    recycle_gap: int = 10
    mql_min_fit: int = 0
    sql_min_fit: int = 0
    mql_min_engagement: int = 0
    sql_min_engagement: int = 0
    requalify_gap: int = 30  # a lead sales sent back needs this many new points (or a fast track) to qualify again


@dataclass(frozen=True, slots=True)
class Grades:
    """Fit grade A..D and engagement level 1..3; ``A1`` is the best lead, ``D3`` the weakest."""

    fit: tuple[tuple[str, int], ...] = (("A", 30), ("B", 20), ("C", 10))
    engagement: tuple[tuple[str, int], ...] = (("1", 60), ("2", 30))

    def grade(self, fit: int, engagement: int) -> str:
        letter = next((g for g, low in self.fit if fit >= low), "D")
        level = next((g for g, low in self.engagement if engagement >= low), "3")
        return letter + level


@dataclass(frozen=True)
class ScoringModel:
    id: str
    hash: str
    thresholds: Thresholds
    fit_rules: tuple[FitRule, ...] = ()
    engagement_rules: tuple[EngagementRule, ...] = ()
    fast_tracks: tuple[FastTrack, ...] = ()
    groups: Mapping[str, Group] = field(default_factory=lambda: MappingProxyType({}))
    disqualifiers: tuple[Disqualifier, ...] = ()
    grades: Grades = field(default_factory=Grades)
    _rules_by_type: Mapping[str, tuple[EngagementRule, ...]] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    _tracks_by_type: Mapping[str, tuple[FastTrack, ...]] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    _disqualifiers_by_type: Mapping[str, tuple[Disqualifier, ...]] = field(
        default_factory=lambda: MappingProxyType({}), repr=False)
    _any_type_disqualifiers: tuple[Disqualifier, ...] = field(default=(), repr=False)
    fit_reads_profile_only: bool = field(default=True, init=False, repr=False, compare=False)
    """Every fit condition reads the e-mail or the profile: the same e-mail and profile give the same fit."""

    def __post_init__(self) -> None:
        by_type: dict[str, list[EngagementRule]] = {}
        for rule in self.engagement_rules:
            by_type.setdefault(rule.on, []).append(rule)
        tracks: dict[str, list[FastTrack]] = {}
        for track in self.fast_tracks:
            tracks.setdefault(track.on, []).append(track)
        object.__setattr__(self, "_rules_by_type", MappingProxyType({k: tuple(v) for k, v in by_type.items()}))
        object.__setattr__(self, "_tracks_by_type", MappingProxyType({k: tuple(v) for k, v in tracks.items()}))
        any_type = tuple(d for d in self.disqualifiers if d.on is None)
        object.__setattr__(self, "_disqualifiers_by_type", MappingProxyType({
            kind: tuple(d for d in self.disqualifiers if d.on is None or d.on == kind)
            for kind in {d.on for d in self.disqualifiers if d.on is not None}
        }))
        object.__setattr__(self, "_any_type_disqualifiers", any_type)
        object.__setattr__(self, "fit_reads_profile_only", all(
            c.field in ("email", "email_domain") or c.field.startswith("profile.") for rule in self.fit_rules for c in rule.when
        ))

    def rules_for(self, touchpoint_type: str) -> tuple[EngagementRule, ...]:
        return self._rules_by_type.get(touchpoint_type, ())

    def disqualifiers_for(self, touchpoint_type: str) -> tuple[Disqualifier, ...]:
        """The disqualifiers that can apply to a touchpoint of this type, in model order."""
        return self._disqualifiers_by_type.get(touchpoint_type, self._any_type_disqualifiers)

    def fast_tracks_for(self, touchpoint_type: str) -> tuple[FastTrack, ...]:
        return self._tracks_by_type.get(touchpoint_type, ())

    def group(self, name: str) -> Group:
        return self.groups.get(name) or Group(name)
