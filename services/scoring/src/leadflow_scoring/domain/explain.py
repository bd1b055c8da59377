"""Why a lead has its score: ledger lines (raw points, value now, cap effects) that sum exactly to it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from leadflow_scoring.domain.decay import days_between, round_half_up
from leadflow_scoring.domain.leads import LedgerEntry
from leadflow_scoring.domain.model import ScoringModel


@dataclass(frozen=True, slots=True)
class HitRecord:
    """A stored engagement hit (one row of the score ledger)."""

    rule_id: str
    group: str
    points: int
    reason: str
    touchpoint_id: str | None
    occurred_at: datetime
    capped: bool = False


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # fit | engagement | cap
    rule_id: str
    group: str
    reason: str
    raw_points: int
    value_now: int
    decayed_by: int
    touchpoint_id: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    at: datetime
    fit: int
    engagement: int
    score: int
    grade: str
    lines: tuple[Line, ...]


def _apportion(reals: Sequence[float], total: int) -> list[int]:
    """Integers close to ``reals`` that add up to ``total`` (largest remainder)."""
    floors = [math.floor(x) for x in reals]
    short = total - sum(floors)
    order = sorted(range(len(reals)), key=lambda i: reals[i] - floors[i], reverse=short > 0)
    for i in order[: abs(short)]:
        floors[i] += 1 if short > 0 else -1
    return floors


def explain(hits: Sequence[HitRecord], fit_ledger: Sequence[LedgerEntry], model: ScoringModel, at: datetime) -> Explanation:
    by_group: dict[str, list[tuple[HitRecord, float]]] = {}
    for hit in hits:
        if hit.occurred_at > at:
            continue
        value = model.group(hit.group).decay(float(hit.points), days_between(hit.occurred_at, at))
        by_group.setdefault(hit.group, []).append((hit, value))
    lines: list[Line] = []
    engagement = 0
    for group in sorted(by_group):
        members = by_group[group]
        reals = [v for _, v in members]
        total = sum(reals)
        cap = model.group(group).cap
        cap_cut = cap - total if cap is not None and total > cap else None
        if cap_cut is not None:
            reals.append(cap_cut)
        group_points = round_half_up(total + (cap_cut or 0.0))
        engagement += group_points
        ints = _apportion(reals, group_points)
        for (hit, _), value in zip(members, ints):
            lines.append(Line("engagement", hit.rule_id, group, hit.reason, hit.points, value, hit.points - value,
                              hit.touchpoint_id, hit.occurred_at))
        if cap_cut is not None:
            lines.append(Line("cap", f"cap:{group}", group, f"Group '{group}' counts at most {cap} points", 0, ints[-1], 0))
    fit = sum(e.points for e in fit_ledger)
    lines[:0] = [Line("fit", e.rule_id, "fit", e.reason, e.points, e.points, 0) for e in fit_ledger]
    return Explanation(at, fit, engagement, fit + engagement, model.grades.grade(fit, engagement), tuple(lines))
