"""Scoring one touchpoint: ``(LeadState | None, Touchpoint, ScoringModel) -> Scored``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from leadflow_events import Stage, StageCauseKind

from leadflow_scoring.domain.leads import LeadState, LedgerEntry, Touchpoint
from leadflow_scoring.domain.model import FastTrack, ScoringModel
from leadflow_scoring.domain.stages import plan_transitions

LEAD_NAMESPACE = uuid.UUID("6f1f4a4e-4c45-4144-8a46-4c4f57000001")


def lead_id_for(lead_key: str) -> str:
    """Deterministic: replaying the same touchpoints always yields the same lead ids."""
    return str(uuid.uuid5(LEAD_NAMESPACE, lead_key))


@dataclass(frozen=True, slots=True)
class StageChanged:
    lead_id: str
    from_stage: Stage | None
    to_stage: Stage
    occurred_at: datetime
    cause: StageCauseKind
    reason: str
    touchpoint_id: str | None
    rule_id: str | None
    score: int
    fit: int
    engagement: int


@dataclass(frozen=True, slots=True)
class Scored:
    state: LeadState
    ledger: tuple[LedgerEntry, ...]
    changes: tuple[StageChanged, ...]
    created: bool


def new_lead(tp: Touchpoint) -> LeadState:
    return LeadState(
        lead_id=lead_id_for(tp.lead_key),
        lead_key=tp.lead_key,
        email=tp.email,
        anonymous_id=tp.anonymous_id,
        stage=Stage.LEAD,
        created_at=tp.occurred_at,
        updated_at=tp.occurred_at,
        stage_changed_at=tp.occurred_at,
    )


def facts_of(email: str | None, profile: Mapping[str, Any], tp: Touchpoint) -> dict[str, Any]:
    """The flat view that rule conditions read: ``email_domain``, ``profile.x``, ``properties.y``."""
    facts: dict[str, Any] = {"type": tp.type, "email": email, "source_id": tp.source_id}
    facts["email_domain"] = email.rpartition("@")[2] if email else None
    for key, value in profile.items():
        facts[f"profile.{key}"] = value
    for key, value in tp.properties.items():
        facts[f"properties.{key}"] = value
    return facts


def merge_profile(old: Mapping[str, Any], new: Mapping[str, Any]) -> Mapping[str, Any]:
    if not any(v is not None and v != "" for v in new.values()):
        return old
    merged = dict(old)
    merged.update({k: v for k, v in new.items() if v is not None and v != ""})
    return MappingProxyType(merged)


def score_touchpoint(state: LeadState | None, tp: Touchpoint, model: ScoringModel) -> Scored:
    created = state is None
    lead = new_lead(tp) if state is None else state
    profile = merge_profile(lead.profile, tp.profile)
    email = lead.email or tp.email
    facts = facts_of(email, profile, tp)

    fit_ledger = tuple(
        LedgerEntry(rule.id, "fit", rule.points, rule.reason) for rule in model.fit_rules if rule.applies(facts)
    )
    fit = sum(e.points for e in fit_ledger)

    entries: list[LedgerEntry] = []
    hits = dict(lead.rule_hits)
    points = dict(lead.rule_points)
    engagement = lead.engagement
    for rule in model.rules_for(tp.type):
        if not rule.applies(facts):
            continue
        count = hits.get(rule.id, 0)
        if rule.max_hits is not None and count >= rule.max_hits:
            entries.append(LedgerEntry(rule.id, "engagement", 0, f"{rule.reason} (limit of {rule.max_hits} reached)", tp.event_id, capped=True))
            continue
        hits[rule.id] = count + 1
        points[rule.id] = points.get(rule.id, 0) + rule.points
        engagement += rule.points
        entries.append(LedgerEntry(rule.id, "engagement", rule.points, rule.reason, tp.event_id))

    fast: FastTrack | None = next(
        (t for t in model.fast_tracks_for(tp.type) if fit >= t.min_fit and t.applies(facts)), None
    )
    updated = replace(
        lead,
        email=email,
        anonymous_id=lead.anonymous_id or tp.anonymous_id,
        profile=profile,
        fit=fit,
        engagement=engagement,
        rule_hits=MappingProxyType(hits),
        rule_points=MappingProxyType(points),
        touchpoint_count=lead.touchpoint_count + 1,
        updated_at=max(lead.updated_at, tp.occurred_at),
        fit_ledger=fit_ledger,
    )
    changes: list[StageChanged] = []
    if created:
        changes.append(_change(updated, None, Stage.LEAD, tp, StageCauseKind.TOUCHPOINT, None, f"First touchpoint: {tp.type}."))
    top = max((e for e in entries if e.points), key=lambda e: abs(e.points), default=None)
    current = updated.stage
    for target in plan_transitions(current, updated.score, fit, model.thresholds, fast_tracked=fast is not None):
        if fast is not None and target is Stage.SQL:
            cause, rule_id = StageCauseKind.FAST_TRACK, fast.id
            reason = f"{fast.reason} (fast track '{fast.id}', fit {fit} >= {fast.min_fit})."
        else:
            cause, rule_id = StageCauseKind.TOUCHPOINT, top.rule_id if top else None
            reason = _threshold_reason(current, target, updated.score, model, top)
        changes.append(_change(updated, current, target, tp, cause, rule_id, reason))
        current = target
    if current is not updated.stage:
        updated = replace(updated, stage=current, stage_changed_at=tp.occurred_at)
    return Scored(updated, tuple(entries), tuple(changes), created)


def top_reasons(lead: LeadState, model: ScoringModel, limit: int = 5) -> list[tuple[str, int, str]]:
    """The rules that contributed most to the score, as ``(rule_id, points, reason)``."""
    reasons = {r.id: r.reason for r in model.engagement_rules}
    lines = [(e.rule_id, e.points, e.reason) for e in lead.fit_ledger]
    lines += [(rid, pts, reasons.get(rid, rid)) for rid, pts in lead.rule_points.items() if pts]
    lines.sort(key=lambda line: -abs(line[1]))
    return lines[:limit]


def _threshold_reason(current: Stage, target: Stage, score: int, model: ScoringModel, top: LedgerEntry | None) -> str:
    after = f" after '{top.rule_id}' ({top.points:+d})" if top else ""
    t = model.thresholds
    if target is Stage.MQL:
        return f"Score {score} reached the MQL threshold {t.mql}{after}."
    if target is Stage.SQL:
        return f"Score {score} reached the SQL threshold {t.sql}{after}."
    return f"Score {score} fell below {t.mql - t.recycle_gap} (MQL threshold {t.mql} minus gap {t.recycle_gap}){after}; recycled to nurture."


def _change(
    lead: LeadState, from_stage: Stage | None, to_stage: Stage, tp: Touchpoint, cause: StageCauseKind, rule_id: str | None, reason: str
) -> StageChanged:
    return StageChanged(
        lead_id=lead.lead_id, from_stage=from_stage, to_stage=to_stage, occurred_at=tp.occurred_at, cause=cause,
        reason=reason, touchpoint_id=tp.event_id, rule_id=rule_id, score=lead.score, fit=lead.fit,
        engagement=lead.engagement,
    )
