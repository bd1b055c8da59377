"""Loads a scoring model from YAML, with errors that name the file, the rule and the field."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from leadflow_events import TouchpointType

from leadflow_scoring.domain.model import (
    OPERATORS, Condition, Disqualifier, EngagementRule, FastTrack, FitRule, Grades, Group, HitLimit, ScoringModel,
    Thresholds,
)

DEFAULT_MODEL_PATH = Path(__file__).with_name("default_model.yaml")


class ModelFileError(ValueError):
    """The model file cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConditionSpec(_Strict):
    field: str = Field(min_length=1)
    op: str
    value: Any = None

    @field_validator("op")
    @classmethod
    def _known(cls, op: str) -> str:
        if op not in OPERATORS:
            raise ValueError(f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
        return op


class FitRuleSpec(_Strict):
    id: str = Field(min_length=1)
    points: int
    reason: str
    when: list[ConditionSpec] = Field(min_length=1)


class LimitSpec(_Strict):
    count: int = Field(ge=1)
    per_days: float | None = Field(default=None, gt=0)


class GroupSpec(_Strict):
    half_life_days: float | None = Field(default=None, gt=0, description="Points lose half their value in this time.")
    cap: int | None = Field(default=None, ge=0, description="The group counts at most this many points.")


class EngagementRuleSpec(_Strict):
    id: str = Field(min_length=1)
    touchpoint: TouchpointType
    points: int
    reason: str
    group: str = "engagement"
    when: list[ConditionSpec] = []
    max_hits: int | None = Field(default=None, ge=1, description="Shorthand for limit: {count: N}.")
    limit: LimitSpec | None = None


class DisqualifierSpec(_Strict):
    id: str = Field(min_length=1)
    reason: str
    touchpoint: TouchpointType | None = None
    when: list[ConditionSpec] = Field(min_length=1)


class GradesSpec(_Strict):
    fit: dict[str, int] = {"A": 30, "B": 20, "C": 10}
    engagement: dict[str, int] = {"1": 60, "2": 30}


class FastTrackSpec(_Strict):
    id: str = Field(min_length=1)
    touchpoint: TouchpointType
    min_fit: int = 0
    reason: str
    when: list[ConditionSpec] = []


class ThresholdsSpec(_Strict):
    mql: int
    sql: int
    recycle_gap: int = Field(default=10, ge=0)
    mql_min_fit: int = 0
    sql_min_fit: int = 0
    mql_min_engagement: int = 0
    sql_min_engagement: int = 0
    requalify_gap: int = Field(
        default=30, ge=0,
        description="A lead sales sent back qualifies again only this many points above its score at the rejection "
        "(or through a fast track).",
    )


class ModelSpec(_Strict):
    id: str = Field(min_length=1)
    version: int | str = 1
    description: str = ""
    kind: Literal["leadflow.scoring-model"] = "leadflow.scoring-model"
    thresholds: ThresholdsSpec
    groups: dict[str, GroupSpec] = {}
    grades: GradesSpec = GradesSpec()
    fit: list[FitRuleSpec] = []
    engagement: list[EngagementRuleSpec] = []
    fast_tracks: list[FastTrackSpec] = []
    disqualifiers: list[DisqualifierSpec] = []


def _conditions(specs: list[ConditionSpec]) -> tuple[Condition, ...]:
    return tuple(Condition.make(c.field, c.op, c.value) for c in specs)


def parse_model(text: str, origin: str = "<model>") -> ScoringModel:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModelFileError(f"{origin}: not valid YAML: {exc}") from exc
    try:
        spec = ModelSpec.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
            lines.append(f"{origin}: {path or '<root>'}: {err['msg']}")
        raise ModelFileError("\n".join(lines)) from exc
    ids = [r.id for r in spec.fit] + [r.id for r in spec.engagement] + [t.id for t in spec.fast_tracks]
    ids += [d.id for d in spec.disqualifiers]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ModelFileError(f"{origin}: rule ids must be unique; repeated: {', '.join(dupes)}")
    if spec.thresholds.sql < spec.thresholds.mql:
        raise ModelFileError(f"{origin}: thresholds.sql ({spec.thresholds.sql}) is below thresholds.mql ({spec.thresholds.mql})")
    for i, rule in enumerate(spec.engagement):
        if rule.group not in spec.groups and spec.groups:
            raise ModelFileError(f"{origin}: engagement[{i}].group ({rule.id}): unknown group {rule.group!r}; "
                                 f"declare it under groups (known: {', '.join(spec.groups)})")
        if rule.max_hits is not None and rule.limit is not None:
            raise ModelFileError(f"{origin}: engagement[{i}] ({rule.id}): give max_hits or limit, not both")
    sections: dict[str, list[Any]] = {
        "fit": spec.fit, "engagement": spec.engagement, "fast_tracks": spec.fast_tracks, "disqualifiers": spec.disqualifiers,
    }
    for section, rules in sections.items():
        for i, rule in enumerate(rules):
            for j, cond in enumerate(rule.when):
                try:
                    Condition.make(cond.field, cond.op, cond.value)
                except Exception as exc:  # bad regex, non-list for "in", ...
                    raise ModelFileError(f"{origin}: {section}[{i}].when[{j}] ({rule.id}): {exc}") from exc
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    t = spec.thresholds
    return ScoringModel(
        id=f"{spec.id}@{spec.version}",
        hash=digest,
        thresholds=Thresholds(t.mql, t.sql, t.recycle_gap, t.mql_min_fit, t.sql_min_fit, t.mql_min_engagement,
                              t.sql_min_engagement, requalify_gap=t.requalify_gap),
        fit_rules=tuple(FitRule(r.id, r.points, r.reason, _conditions(r.when)) for r in spec.fit),
        engagement_rules=tuple(
            EngagementRule(r.id, r.touchpoint.value, r.points, r.reason, _conditions(r.when), _limit(r), r.group)
            for r in spec.engagement
        ),
        fast_tracks=tuple(FastTrack(t.id, t.touchpoint.value, t.min_fit, t.reason, _conditions(t.when)) for t in spec.fast_tracks),
        groups=MappingProxyType({n: Group(n, g.half_life_days, g.cap) for n, g in spec.groups.items()}),
        disqualifiers=tuple(
            Disqualifier(d.id, d.reason, d.touchpoint.value if d.touchpoint else None, _conditions(d.when))
            for d in spec.disqualifiers
        ),
        grades=Grades(
            fit=tuple(sorted(spec.grades.fit.items(), key=lambda kv: -kv[1])),
            engagement=tuple(sorted(spec.grades.engagement.items(), key=lambda kv: -kv[1])),
        ),
    )


def _limit(rule: EngagementRuleSpec) -> HitLimit | None:
    if rule.limit is not None:
        return HitLimit(rule.limit.count, rule.limit.per_days)
    return HitLimit(rule.max_hits) if rule.max_hits is not None else None


def load_model(path: Path | str | None = None) -> ScoringModel:
    p = Path(path) if path else DEFAULT_MODEL_PATH
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelFileError(f"{p}: cannot read the scoring model: {exc.strerror}") from exc
    return parse_model(text, str(p))
