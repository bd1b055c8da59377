"""Scoring one touchpoint: ``(LeadState | None, Touchpoint, ScoringModel) -> Scored``.

Also ``reevaluate``: the same lead at a later moment with no new touchpoint (decay).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from leadflow_events import Stage, StageCauseKind

from leadflow_scoring.domain.decay import add_points_into, engagement_at, first_time_below
from leadflow_scoring.domain.leads import LeadState, LedgerEntry, Touchpoint
from leadflow_scoring.domain.model import EngagementRule, FastTrack, ScoringModel
from leadflow_scoring.domain.stages import plan_transitions

LEAD_NAMESPACE = uuid.UUID("6f1f4a4e-4c45-4144-8a46-4c4f57000001")


@functools.lru_cache(maxsize=16_384)
def lead_id_for(lead_key: str) -> str:
    """Deterministic: replaying the same touchpoints always yields the same lead ids. (Cached: returning leads
    are the common case, and a name-based UUID is a SHA-1 and two string conversions.)"""
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


def new_lead(tp: Touchpoint, lead_id: str | None = None) -> LeadState:
    """A lead first seen with ``tp``; its id is derived from its key unless the caller knows it already."""
    return LeadState(
        lead_id=lead_id or lead_id_for(tp.lead_key),
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


class Working:
    """A lead while touchpoints are applied to it: plain mutable fields, frozen into a ``LeadState`` once.

    ``score_touchpoint`` applies one touchpoint; a replay applies a whole history to one ``Working``
    and freezes the end, so the two cannot disagree - it is the same step.
    """

    __slots__ = ("lead", "email", "anonymous_id", "profile", "fit", "fit_ledger", "engagement", "groups", "hits",
                 "recent", "points", "count", "updated_at", "stage", "stage_changed_at", "disqualified_reason",
                 "requalify_at", "review_at", "_fit_seen")

    def __init__(self, lead: LeadState) -> None:
        self.lead = lead
        self.email, self.anonymous_id, self.profile = lead.email, lead.anonymous_id, lead.profile
        self.fit, self.fit_ledger, self.engagement = lead.fit, lead.fit_ledger, lead.engagement
        self.groups = dict(lead.groups)
        self.hits = dict(lead.rule_hits)
        self.recent = dict(lead.recent_hits)
        self.points = dict(lead.rule_points)
        self.count, self.updated_at = lead.touchpoint_count, lead.updated_at
        self.stage, self.stage_changed_at = lead.stage, lead.stage_changed_at
        self.disqualified_reason, self.requalify_at, self.review_at = lead.disqualified_reason, lead.requalify_at, lead.review_at
        self._fit_seen: tuple[str | None, Mapping[str, Any]] | None = None  # what the fit was computed from

    def freeze(self) -> LeadState:
        """The lead as it stands; the working copy is done with (its mappings now belong to the state)."""
        lead = self.lead
        return LeadState(
            lead_id=lead.lead_id, lead_key=lead.lead_key, email=self.email, anonymous_id=self.anonymous_id,
            stage=self.stage, created_at=lead.created_at, updated_at=self.updated_at,
            stage_changed_at=self.stage_changed_at, profile=self.profile, engagement=self.engagement, fit=self.fit,
            groups=MappingProxyType(self.groups), rule_hits=MappingProxyType(self.hits),
            recent_hits=MappingProxyType(self.recent), rule_points=MappingProxyType(self.points),
            touchpoint_count=self.count, fit_ledger=self.fit_ledger, disqualified_reason=self.disqualified_reason,
            review_at=self.review_at, requalify_at=self.requalify_at,
        )

    def apply(self, tp: Touchpoint, model: ScoringModel, created: bool) -> tuple[list[LedgerEntry], list[StageChanged]]:
        """One touchpoint: the engagement hits it earns (with capped ones) and the stage changes it causes."""
        self.profile = profile = merge_profile(self.profile, tp.profile)
        self.email = email = self.email or tp.email
        self.anonymous_id = self.anonymous_id or tp.anonymous_id
        facts = facts_of(email, profile, tp)
        at = tp.occurred_at
        now = at if at > self.updated_at else self.updated_at  # max(), keeping the first of equals

        # Fit is recomputed from the current profile; a model whose fit rules read only the e-mail and the
        # profile gives the same fit for the same e-mail and profile, so a replay recomputes it only when they change.
        seen = self._fit_seen
        if seen is None or seen[0] != email or seen[1] is not profile:
            self.fit_ledger = tuple(
                LedgerEntry(rule.id, "fit", rule.points, rule.reason) for rule in model.fit_rules if rule.applies(facts)
            )
            self.fit = sum(e.points for e in self.fit_ledger)
            self._fit_seen = (email, profile) if model.fit_reads_profile_only else None
        fit = self.fit

        entries: list[LedgerEntry] = []
        hits, recent, points, groups = self.hits, self.recent, self.points, self.groups
        for rule in model.rules_for(tp.type):
            if not rule.applies(facts):
                continue
            if not _allowed(rule, hits, recent, at):
                entries.append(LedgerEntry(rule.id, rule.group, 0, _limit_text(rule), tp.event_id, capped=True))
                continue
            hits[rule.id] = hits.get(rule.id, 0) + 1
            if rule.limit is not None and rule.limit.days is not None:
                recent[rule.id] = tuple(sorted((*recent.get(rule.id, ()), at)))[-rule.limit.count:]
            points[rule.id] = points.get(rule.id, 0) + rule.points
            add_points_into(groups, model.group(rule.group), rule.points, at)
            entries.append(LedgerEntry(rule.id, rule.group, rule.points, rule.reason, tp.event_id))
        self.engagement = engagement_at(groups, model, now)
        self.count += 1
        self.updated_at = now

        changes: list[StageChanged] = []
        if created:
            changes.append(self._change(None, Stage.LEAD, at, tp.event_id, StageCauseKind.TOUCHPOINT, None,
                                        f"First touchpoint: {tp.type}."))
        blocker = next((d for d in model.disqualifiers_for(tp.type) if d.applies(tp.type, facts)), None)
        if blocker is not None and self.stage is not Stage.DISQUALIFIED:
            changes.append(self._change(self.stage, Stage.DISQUALIFIED, at, tp.event_id, StageCauseKind.DISQUALIFIED,
                                        blocker.id, f"{blocker.reason} (disqualifier '{blocker.id}')."))
            self.stage, self.stage_changed_at, self.disqualified_reason = Stage.DISQUALIFIED, at, blocker.reason
            self.review_at = None
            return entries, changes
        fast: FastTrack | None = next(
            (t for t in model.fast_tracks_for(tp.type) if fit >= t.min_fit and t.applies(facts)), None
        )
        top = max((e for e in entries if e.points), key=lambda e: abs(e.points), default=None)
        self.move(model, at, tp.event_id, fast, top, StageCauseKind.TOUCHPOINT, changes)
        return entries, changes

    def move(self, model: ScoringModel, at: datetime, touchpoint_id: str | None, fast: FastTrack | None,
             top: LedgerEntry | None, cause: StageCauseKind, changes: list[StageChanged]) -> None:
        current = self.stage
        score = self.fit + self.engagement
        targets = plan_transitions(current, score, self.fit, model.thresholds, fast_tracked=fast is not None,
                                   engagement=self.engagement, requalify_at=self.requalify_at)
        for target in targets:
            if fast is not None and target is Stage.SQL:
                kind, rule_id = StageCauseKind.FAST_TRACK, fast.id
                reason = f"{fast.reason} (fast track '{fast.id}', fit {self.fit} >= {fast.min_fit})."
            else:
                kind, rule_id = cause, top.rule_id if top else None
                reason = _threshold_reason(target, score, model, top, cause)
            if self.requalify_at is not None and self.stage is Stage.LEAD:
                reason += f" Sales had sent it back; it needed {self.requalify_at} points (or a fast track) to qualify again."
            changes.append(self._change(current, target, at, touchpoint_id, kind, rule_id, reason))
            current = target
        if current is not self.stage:
            self.stage, self.stage_changed_at, self.requalify_at = current, at, None

    def _change(self, from_stage: Stage | None, to_stage: Stage, at: datetime, touchpoint_id: str | None,
                cause: StageCauseKind, rule_id: str | None, reason: str) -> StageChanged:
        return StageChanged(
            lead_id=self.lead.lead_id, from_stage=from_stage, to_stage=to_stage, occurred_at=at, cause=cause,
            reason=reason, touchpoint_id=touchpoint_id, rule_id=rule_id, score=self.fit + self.engagement, fit=self.fit,
            engagement=self.engagement,
        )


def score_touchpoint(state: LeadState | None, tp: Touchpoint, model: ScoringModel, *, review: bool = True) -> Scored:
    """The lead after ``tp``. ``review=False`` leaves ``review_at`` stale: for a replay, which sets it once on
    the final state (``with_review``) - it depends on that state alone, and finding it is the costliest step."""
    created = state is None
    work = Working(new_lead(tp) if state is None else state)
    entries, changes = work.apply(tp, model, created)
    updated = work.freeze()
    if review:
        updated = with_review(updated, model)
    return Scored(updated, tuple(entries), tuple(changes), created)


def reevaluate(lead: LeadState, model: ScoringModel, at: datetime) -> Scored:
    """The lead at ``at`` without a new touchpoint: decay may have recycled it."""
    work = Working(lead)
    work.engagement = engagement_at(lead.groups, model, at)
    work.updated_at = max(lead.updated_at, at)
    changes: list[StageChanged] = []
    work.move(model, at, None, None, None, StageCauseKind.DECAY, changes)
    return Scored(with_review(work.freeze(), model), (), tuple(changes), False)


def with_review(lead: LeadState, model: ScoringModel) -> LeadState:
    """When decay will take an MQL below the recycle line (None: never, or not an MQL)."""
    if lead.stage is not Stage.MQL:
        return replace(lead, review_at=None) if lead.review_at else lead
    t = model.thresholds
    at = first_time_below(lead.groups, model, lead.fit, t.mql - t.recycle_gap, lead.updated_at)
    return replace(lead, review_at=at)


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
