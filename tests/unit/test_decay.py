"""Decay: the review-time search finds the very moment a plain bisection over datetimes finds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow_scoring.domain.decay import HORIZON, decays, engagement_at, first_time_below
from leadflow_scoring.domain.model import Group, ScoringModel, Thresholds

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MODEL = ScoringModel(
    id="decay-test", hash="0", thresholds=Thresholds(mql=65, sql=100),
    groups=MappingProxyType({
        "forms": Group("forms", half_life_days=90), "content": Group("content", half_life_days=60, cap=45),
        "web": Group("web", half_life_days=30, cap=30), "email": Group("email", half_life_days=7.5, cap=20),
        "signals": Group("signals"),
    }),
)


def bisect_on_datetimes(groups, model, fit: int, line: int, start: datetime) -> datetime | None:
    """The search as it reads in prose: halve the interval on datetimes until it is a second wide."""
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


group_entry = st.tuples(
    st.floats(min_value=0, max_value=400, allow_nan=False),
    st.integers(min_value=-90 * 86_400_000_000, max_value=0).map(lambda us: T0 + timedelta(microseconds=us)),
)
group_sets = st.dictionaries(st.sampled_from(["forms", "content", "web", "email", "signals", "unknown"]), group_entry,
                             min_size=1, max_size=6)


@settings(max_examples=400, deadline=None)
@given(group_sets, st.integers(0, 60), st.integers(1, 160),
       st.integers(min_value=0, max_value=5 * 86_400_000_000).map(lambda us: T0 + timedelta(microseconds=us)))
def test_the_review_time_is_the_one_a_datetime_bisection_finds(groups, fit, line, start):
    groups = MappingProxyType(groups)
    assert first_time_below(groups, MODEL, fit, line, start) == bisect_on_datetimes(groups, MODEL, fit, line, start)


def test_the_review_time_is_a_whole_second_when_the_score_falls_below_the_line():
    groups = MappingProxyType({"web": (30.0, T0), "forms": (40.0, T0)})
    at = first_time_below(groups, MODEL, 10, 55, T0 + timedelta(microseconds=250))
    assert at is not None and at.microsecond == 0 and at > T0
    assert 10 + engagement_at(groups, MODEL, at) < 55
    assert 10 + engagement_at(groups, MODEL, at - timedelta(seconds=1)) >= 55


def test_no_review_time_without_decaying_groups_or_within_the_horizon():
    assert first_time_below(MappingProxyType({"signals": (80.0, T0)}), MODEL, 0, 50, T0) is None
    assert first_time_below(MappingProxyType({"forms": (80.0, T0), "signals": (60.0, T0)}), MODEL, 0, 50, T0) is None
