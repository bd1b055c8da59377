"""Engagement that loses value with a half-life, computed from timestamps (no nightly rewrites).

Exponential decay is linear, so one (value, reference time) pair per group is enough:
the value at any later time is ``value * 0.5 ** (days / half_life)``, and a new hit is
added to the decayed value. Out-of-order hits are decayed up to the reference time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from leadflow_scoring.domain.model import Group, ScoringModel

DAY = 86_400.0
HORIZON = timedelta(days=3 * 365)

Groups = Mapping[str, tuple[float, datetime]]


def days_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds() / DAY


def round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def add_points_into(groups: dict[str, tuple[float, datetime]], group: Group, points: float, at: datetime) -> None:
    """Add a hit at ``at`` to ``groups`` in place; a hit older than the reference time is decayed up to it."""
    value, ref = groups.get(group.name, (0.0, at))
    if at >= ref:
        value, ref = group.decay(value, days_between(ref, at)) + points, at
    else:
        value += group.decay(points, days_between(at, ref))
    groups[group.name] = (value, ref)


def group_values(groups: Groups, model: ScoringModel, at: datetime) -> dict[str, float]:
    """Each group's decayed value at ``at``, before its cap."""
    out = {}
    for name, (value, ref) in groups.items():
        out[name] = model.group(name).decay(value, days_between(ref, at)) if at > ref else value
    return out


def engagement_at(groups: Groups, model: ScoringModel, at: datetime) -> int:
    """Whole points: each group is rounded on its own, so no group ever shows more than its cap.

    ``_engagement`` below is the same sum on microseconds for the review-time search; this one stays on
    datetimes because it runs once per touchpoint, where converting every reference time costs more than
    it saves (``tests/unit/test_decay.py`` holds the two to the same answers)."""
    total = 0
    for name, (value, ref) in groups.items():
        group = model.group(name)
        if at > ref:
            value = group.decay(value, days_between(ref, at))
        if group.cap is not None and value > group.cap:
            value = group.cap
        total += math.floor(value + 0.5)
    return total


def decays(groups: Groups, model: ScoringModel) -> bool:
    return any(model.group(n).half_life_days is not None for n in groups)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_SECOND_US = 1_000_000
_HORIZON_US = HORIZON // _US

# A group as the engagement sum reads it: (value, reference time in µs since the epoch, half-life in days, cap).
Term = tuple[float, int, float | None, int | None]


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _US


def _terms(groups: Groups, model: ScoringModel) -> list[Term]:
    out = []
    for name, (value, ref) in groups.items():
        group = model.group(name)
        out.append((value, _micros(ref), group.half_life_days, group.cap))
    return out


def _engagement(terms: list[Term], t: int) -> int:
    """Each group decayed to ``t`` (µs since the epoch; a timedelta's seconds are its microseconds divided by a
    million, so this is ``Group.decay`` over ``days_between``), capped, rounded half up, summed."""
    total = 0
    for value, ref, half_life, cap in terms:
        if t > ref and half_life is not None:
            value = value * 0.5 ** ((t - ref) / _SECOND_US / DAY / half_life)
        if cap is not None and value > cap:
            value = cap
        total += math.floor(value + 0.5)
    return total


def first_time_below(groups: Groups, model: ScoringModel, fit: int, line: int, start: datetime) -> datetime | None:
    """The first moment after ``start`` at which fit + engagement drops below ``line`` (to the second).

    Bisection assumes the score only falls from ``start`` on, which holds when positive
    points dominate; a lead whose negative points decay (and whose score so rises) is
    re-examined at its next touchpoint anyway.

    The search runs on whole microseconds since the epoch with the groups' terms taken out of the
    model once (``engagement_at``'s own arithmetic; midpoints round half to even like
    ``timedelta / 2``), so it finds the moment a bisection over datetimes finds, at a fraction of
    the cost - this runs for every MQL scored.
    """
    if not decays(groups, model):
        return None
    terms = _terms(groups, model)
    need = line - fit  # below the line <=> engagement < need

    def below(t: int) -> bool:
        return _engagement(terms, t) < need

    lo = _micros(start)
    if below(lo):
        return start
    hi = lo + _HORIZON_US
    if not below(hi):
        return None
    while hi - lo > _SECOND_US:
        half, odd = divmod(hi - lo, 2)
        mid = lo + half + (1 if odd and half % 2 else 0)  # round half to even, as timedelta / 2 does
        if below(mid):
            hi = mid
        else:
            lo = mid
    if hi % _SECOND_US:
        hi += _SECOND_US - hi % _SECOND_US
    return _EPOCH + timedelta(microseconds=hi)
