"""Engagement that loses value with a half-life, computed from timestamps (no nightly rewrites).

Exponential decay is linear, so one (value, reference time) pair per group is enough:
the value at any later time is ``value * 0.5 ** (days / half_life)``, and a new hit is
added to the decayed value. Out-of-order hits are decayed up to the reference time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

from leadflow_scoring.domain.model import Group, ScoringModel

DAY = 86_400.0
HORIZON = timedelta(days=3 * 365)

Groups = Mapping[str, tuple[float, datetime]]


def days_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds() / DAY


def round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def add_points(groups: Groups, group: Group, points: float, at: datetime) -> Groups:
    value, ref = groups.get(group.name, (0.0, at))
    if at >= ref:
        value, ref = group.decay(value, days_between(ref, at)) + points, at
    else:
        value += group.decay(points, days_between(at, ref))
    updated = dict(groups)
    updated[group.name] = (value, ref)
    return MappingProxyType(updated)


def group_values(groups: Groups, model: ScoringModel, at: datetime) -> dict[str, float]:
    """Each group's decayed value at ``at``, before its cap."""
    out = {}
    for name, (value, ref) in groups.items():
        out[name] = model.group(name).decay(value, days_between(ref, at)) if at > ref else value
    return out


def capped(name: str, value: float, model: ScoringModel) -> float:
    cap = model.group(name).cap
    return min(value, cap) if cap is not None else value


def engagement_at(groups: Groups, model: ScoringModel, at: datetime) -> int:
    """Whole points: each group is rounded on its own, so no group ever shows more than its cap."""
    return sum(round_half_up(capped(n, v, model)) for n, v in group_values(groups, model, at).items())


def decays(groups: Groups, model: ScoringModel) -> bool:
    return any(model.group(n).half_life_days is not None for n in groups)


def first_time_below(groups: Groups, model: ScoringModel, fit: int, line: int, start: datetime) -> datetime | None:
    """The first moment after ``start`` at which fit + engagement drops below ``line`` (to the second).

    Bisection assumes the score only falls from ``start`` on, which holds when positive
    points dominate; a lead whose negative points decay (and whose score so rises) is
    re-examined at its next touchpoint anyway.
    """
    if not decays(groups, model):
        return None

    def below(t: datetime) -> bool:
        return fit + engagement_at(groups, model, t) < line

    if below(start):
        return start
    end = start + HORIZON
    if not below(end):
        return None
    lo, hi = start, end
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if below(mid):
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) + timedelta(seconds=1) if hi.microsecond else hi
