"""Scoring one touchpoint: ``(LeadState | None, Touchpoint, ScoringModel) -> Scored``.

Also ``reevaluate``: the same lead at a later moment with no new touchpoint (decay).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from leadflow_events import Stage, StageCauseKind

from leadflow_scoring.domain.decay import add_points, engagement_at, first_time_below
from leadflow_scoring.domain.leads import LeadState, LedgerEntry, Touchpoint
from leadflow_scoring.domain.model import EngagementRule, FastTrack, ScoringModel
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
    handover_id: str | None = None  # cause SALES_FEEDBACK: the handover sales answered
    rejection_reason: str | None = None  # a lead sales sent back: why


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


def _allowed(rule: EngagementRule, hits: dict[str, int], recent: dict[str, tuple[datetime, ...]], at: datetime) -> bool:
    limit = rule.limit
    if limit is None:
        return True
    if limit.days is None:
        return hits.get(rule.id, 0) < limit.count
    window_start = at - timedelta(days=limit.days)
    return sum(1 for t in recent.get(rule.id, ()) if window_start < t <= at) < limit.count


def _limit_text(rule: EngagementRule) -> str:
    assert rule.limit is not None
    per = f" per {rule.limit.days:g} days" if rule.limit.days is not None else ""
    return f"{rule.reason} (limit of {rule.limit.count}{per} reached)"


def score_touchpoint(state: LeadState | None, tp: Touchpoint, model: ScoringModel, *, review: bool = True) -> Scored:
    """The lead after ``tp``. ``review=False`` leaves ``review_at`` stale: for a replay, which sets it once on
    the final state (``with_review``) - it depends on that state alone, and finding it is the costliest step."""
    created = state is None
    lead = new_lead(tp) if state is None else state
    profile = merge_profile(lead.profile, tp.profile)
    email = lead.email or tp.email
    facts = facts_of(email, profile, tp)
    now = max(lead.updated_at, tp.occurred_at)

    fit_ledger = tuple(
        LedgerEntry(rule.id, "fit", rule.points, rule.reason) for rule in model.fit_rules if rule.applies(facts)
    )
    fit = sum(e.points for e in fit_ledger)

    entries: list[LedgerEntry] = []
    hits = dict(lead.rule_hits)
    recent = dict(lead.recent_hits)
    points = dict(lead.rule_points)
    groups = lead.groups
    for rule in model.rules_for(tp.type):
        if not rule.applies(facts):
            continue
        if not _allowed(rule, hits, recent, tp.occurred_at):
            entries.append(LedgerEntry(rule.id, rule.group, 0, _limit_text(rule), tp.event_id, capped=True))
            continue
        hits[rule.id] = hits.get(rule.id, 0) + 1
        if rule.limit is not None and rule.limit.days is not None:
            recent[rule.id] = tuple(sorted((*recent.get(rule.id, ()), tp.occurred_at)))[-rule.limit.count:]
        points[rule.id] = points.get(rule.id, 0) + rule.points
        groups = add_points(groups, model.group(rule.group), rule.points, tp.occurred_at)
        entries.append(LedgerEntry(rule.id, rule.group, rule.points, rule.reason, tp.event_id))

    updated = replace(
        lead,
        email=email,
        anonymous_id=lead.anonymous_id or tp.anonymous_id,
        profile=profile,
        fit=fit,
        engagement=engagement_at(groups, model, now),
        groups=groups,
        rule_hits=MappingProxyType(hits),
        recent_hits=MappingProxyType(recent),
        rule_points=MappingProxyType(points),
        touchpoint_count=lead.touchpoint_count + 1,
        updated_at=now,
        fit_ledger=fit_ledger,
    )
    changes: list[StageChanged] = []
    if created:
        changes.append(_change(updated, None, Stage.LEAD, tp.occurred_at, tp.event_id, StageCauseKind.TOUCHPOINT, None,
                               f"First touchpoint: {tp.type}."))
    blocker = next((d for d in model.disqualifiers if d.applies(tp.type, facts)), None)
    if blocker is not None and updated.stage is not Stage.DISQUALIFIED:
        changes.append(_change(updated, updated.stage, Stage.DISQUALIFIED, tp.occurred_at, tp.event_id,
                               StageCauseKind.DISQUALIFIED, blocker.id, f"{blocker.reason} (disqualifier '{blocker.id}')."))
        updated = replace(updated, stage=Stage.DISQUALIFIED, stage_changed_at=tp.occurred_at,
                          disqualified_reason=blocker.reason)
        return Scored(replace(updated, review_at=None), tuple(entries), tuple(changes), created)

    fast: FastTrack | None = next(
        (t for t in model.fast_tracks_for(tp.type) if fit >= t.min_fit and t.applies(facts)), None
    )
    top = max((e for e in entries if e.points), key=lambda e: abs(e.points), default=None)
    updated, moved = _move(updated, model, tp.occurred_at, tp.event_id, fast, top)
    changes.extend(moved)
    return Scored(with_review(updated, model) if review else updated, tuple(entries), tuple(changes), created)


def reevaluate(lead: LeadState, model: ScoringModel, at: datetime) -> Scored:
    """The lead at ``at`` without a new touchpoint: decay may have recycled it."""
    cooled = replace(lead, engagement=engagement_at(lead.groups, model, at), updated_at=max(lead.updated_at, at))
    updated, moved = _move(cooled, model, at, None, None, None, cause=StageCauseKind.DECAY)
    return Scored(with_review(updated, model), (), tuple(moved), False)


def with_review(lead: LeadState, model: ScoringModel) -> LeadState:
    """When decay will take an MQL below the recycle line (None: never, or not an MQL)."""
    if lead.stage is not Stage.MQL:
        return replace(lead, review_at=None) if lead.review_at else lead
    t = model.thresholds
    at = first_time_below(lead.groups, model, lead.fit, t.mql - t.recycle_gap, lead.updated_at)
    return replace(lead, review_at=at)


def _move(
    lead: LeadState, model: ScoringModel, at: datetime, touchpoint_id: str | None, fast: FastTrack | None,
    top: LedgerEntry | None, cause: StageCauseKind = StageCauseKind.TOUCHPOINT,
) -> tuple[LeadState, list[StageChanged]]:
    changes = []
    current = lead.stage
    targets = plan_transitions(current, lead.score, lead.fit, model.thresholds, fast_tracked=fast is not None,
                               engagement=lead.engagement, requalify_at=lead.requalify_at)
    for target in targets:
        if fast is not None and target is Stage.SQL:
            kind, rule_id = StageCauseKind.FAST_TRACK, fast.id
            reason = f"{fast.reason} (fast track '{fast.id}', fit {lead.fit} >= {fast.min_fit})."
        else:
            kind, rule_id = cause, top.rule_id if top else None
            reason = _threshold_reason(target, lead.score, model, top, cause)
        if lead.requalify_at is not None and lead.stage is Stage.LEAD:
            reason += f" Sales had sent it back; it needed {lead.requalify_at} points (or a fast track) to qualify again."
        changes.append(_change(lead, current, target, at, touchpoint_id, kind, rule_id, reason))
        current = target
    if current is not lead.stage:
        lead = replace(lead, stage=current, stage_changed_at=at, requalify_at=None)
    return lead, changes


def top_reasons(lead: LeadState, model: ScoringModel, limit: int = 5) -> list[tuple[str, int, str]]:
    """The rules that contributed most to the score, as ``(rule_id, points, reason)``."""
    reasons = {r.id: r.reason for r in model.engagement_rules}
    lines = [(e.rule_id, e.points, e.reason) for e in lead.fit_ledger]
    lines += [(rid, pts, reasons.get(rid, rid)) for rid, pts in lead.rule_points.items() if pts]
    lines.sort(key=lambda line: -abs(line[1]))
    return lines[:limit]


def _threshold_reason(target: Stage, score: int, model: ScoringModel, top: LedgerEntry | None, cause: StageCauseKind) -> str:
    after = f" after '{top.rule_id}' ({top.points:+d})" if top else ""
    t = model.thresholds
    if target is Stage.MQL:
        return f"Score {score} reached the MQL threshold {t.mql}{after}."
    if target is Stage.SQL:
        return f"Score {score} reached the SQL threshold {t.sql}{after}."
    why = " as engagement decayed" if cause is StageCauseKind.DECAY else after
    return f"Score {score} fell below {t.mql - t.recycle_gap} (MQL threshold {t.mql} minus gap {t.recycle_gap}){why}; recycled to nurture."


def _change(
    lead: LeadState, from_stage: Stage | None, to_stage: Stage, at: datetime, touchpoint_id: str | None,
    cause: StageCauseKind, rule_id: str | None, reason: str,
) -> StageChanged:
    return StageChanged(
        lead_id=lead.lead_id, from_stage=from_stage, to_stage=to_stage, occurred_at=at, cause=cause,
        reason=reason, touchpoint_id=touchpoint_id, rule_id=rule_id, score=lead.score, fit=lead.fit,
        engagement=lead.engagement,
    )
