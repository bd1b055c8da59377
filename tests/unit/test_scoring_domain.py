"""The pure scoring domain: stages, thresholds, caps, fast tracks, determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow_events import Stage, StageCauseKind
from leadflow_scoring.domain.leads import Touchpoint
from leadflow_scoring.domain.model import Thresholds
from leadflow_scoring.domain.decay import engagement_at, group_values
from leadflow_scoring.domain.explain import HitRecord, explain
from leadflow_scoring.domain.scoring import lead_id_for, reevaluate, score_touchpoint, top_reasons
from leadflow_scoring.domain.stages import plan_transitions
from leadflow_scoring.model_file import load_model

MODEL = load_model()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
BUSINESS = {"job_title": "Head of Marketing", "company_size": 250, "company": "Acme GmbH"}


def tp(kind: str, n: int = 0, email: str = "ada@acme.example", profile=None, **props) -> Touchpoint:
    return Touchpoint(
        event_id=f"ev-{kind}-{n}", type=kind, occurred_at=T0 + timedelta(minutes=n), email=email, anonymous_id=None,
        profile=MappingProxyType(profile or {}), properties=MappingProxyType(props),
    )


def run(*touchpoints: Touchpoint):
    state, changes, ledger = None, [], []
    for t in touchpoints:
        scored = score_touchpoint(state, t, MODEL)
        state = scored.state
        changes.extend(scored.changes)
        ledger.extend(scored.ledger)
    return state, changes, ledger


def test_first_touchpoint_creates_a_lead_with_a_deterministic_id():
    state, changes, _ = run(tp("newsletter_subscribed"))
    assert state.lead_id == lead_id_for("ada@acme.example")
    assert [(c.from_stage, c.to_stage) for c in changes] == [(None, Stage.LEAD)]
    assert state.score == 10  # business e-mail fit only; an unconfirmed sign-up scores nothing


def test_form_and_webinar_make_an_mql_and_a_demo_request_an_sql():
    manager = {"job_title": "Marketing Manager", "company_size": 250}  # fit 20: business e-mail + size
    state, changes, _ = run(
        tp("form_submitted", 0, profile=manager), tp("webinar_attended", 1), tp("demo_requested", 2)
    )
    assert changes[1].score == 70 and changes[1].to_stage is Stage.MQL
    assert [(c.from_stage, c.to_stage) for c in changes] == [
        (None, Stage.LEAD), (Stage.LEAD, Stage.MQL), (Stage.MQL, Stage.SQL),
    ]
    assert changes[-1].cause is StageCauseKind.FAST_TRACK
    assert state.stage is Stage.SQL


def test_demo_request_from_free_mail_without_fit_is_not_fast_tracked():
    state, changes, _ = run(tp("demo_requested", 0, email="someone@gmail.com"))
    assert state.fit == 0
    assert state.stage is Stage.LEAD  # 55 engagement points: below the MQL threshold of 65
    assert all(c.cause is not StageCauseKind.FAST_TRACK for c in changes)


def test_jump_from_lead_to_sql_passes_mql_in_order():
    state, changes, _ = run(tp("demo_requested", 0, profile=BUSINESS))
    assert [c.to_stage for c in changes] == [Stage.LEAD, Stage.MQL, Stage.SQL]


def test_rule_hit_limits_are_kept_and_shown_in_the_ledger():
    pages = [tp("page_viewed", i, page_url="https://acme.example/pricing") for i in range(5)]
    state, _, ledger = run(*pages)
    pricing = [e for e in ledger if e.rule_id == "pricing-page"]
    assert [e.points for e in pricing] == [10, 10, 10, 0, 0]  # at most 3 per 7 days
    assert pricing[-1].capped and "limit of 3 per 7 days" in pricing[-1].reason
    assert state.rule_hits["pricing-page"] == 3
    a_week_later = score_touchpoint(state, tp("page_viewed", 60 * 24 * 8, page_url="https://acme.example/pricing"), MODEL)
    assert [e.points for e in a_week_later.ledger if e.rule_id == "pricing-page"] == [10]


def test_ledger_and_fit_sum_to_the_score():
    state, _, ledger = run(tp("form_submitted", 0, profile=BUSINESS), tp("email_clicked", 1), tp("unsubscribed", 2))
    assert abs(sum(e.points for e in ledger) - state.engagement) <= 1  # minutes of decay only
    assert sum(e.points for e in state.fit_ledger) == state.fit
    assert state.score == state.fit + state.engagement
    assert top_reasons(state, MODEL)[0][0] == "contact-form"


def test_profile_updates_merge_and_keep_known_values():
    state, _, _ = run(tp("form_submitted", 0, profile={"company": "Acme"}), tp("page_viewed", 1, profile={"job_title": "CTO"}))
    assert dict(state.profile) == {"company": "Acme", "job_title": "CTO"}


@pytest.mark.parametrize(
    ("current", "score", "fit", "expected"),
    [
        (Stage.LEAD, 64, 0, []),
        (Stage.LEAD, 65, 0, [Stage.MQL]),
        (Stage.MQL, 60, 0, []),          # inside the gap: no flapping
        (Stage.MQL, 54, 0, [Stage.LEAD]),  # below threshold minus gap: recycled
        (Stage.MQL, 100, 10, [Stage.SQL]),
        (Stage.MQL, 100, 5, []),          # SQL needs fit
        (Stage.SQL, 0, 0, []),            # sales owns it now
    ],
)
def test_transitions(current, score, fit, expected):
    t = Thresholds(mql=65, sql=100, recycle_gap=10, sql_min_fit=10)
    assert plan_transitions(current, score, fit, t) == expected


KINDS = ["form_submitted", "page_viewed", "email_clicked", "unsubscribed", "webinar_attended", "demo_requested",
         "content_downloaded", "newsletter_confirmed", "event_visited"]
POSITIVE = [k for k in KINDS if k != "unsubscribed"]


def hits_of(ledger, at_or_before=None):
    return [
        HitRecord(e.rule_id, e.dimension, e.points, e.reason, e.touchpoint_id, OCCURRED[e.touchpoint_id], e.capped)
        for e in ledger
    ]


OCCURRED: dict[str, datetime] = {}


def journey(kinds, gaps_hours):
    out = []
    at = T0
    for i, (k, gap) in enumerate(zip(kinds, gaps_hours)):
        at = at + timedelta(hours=gap)
        t = Touchpoint(f"ev-{i}", k, at, "ada@acme.example", None,
                       MappingProxyType(BUSINESS if i == 0 else {}), MappingProxyType({"page_url": "https://a.example/pricing"}))
        OCCURRED[t.event_id] = at
        out.append(t)
    return out


journeys = st.integers(min_value=1, max_value=25).flatmap(
    lambda n: st.tuples(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n),
                        st.lists(st.integers(min_value=0, max_value=24 * 40), min_size=n, max_size=n))
)


@settings(max_examples=200, deadline=None)
@given(journeys)
def test_scoring_is_deterministic(j):
    sequence = journey(*j)
    assert run(*sequence) == run(*sequence)


@settings(max_examples=200, deadline=None)
@given(journeys, st.integers(min_value=0, max_value=400))
def test_the_ledger_sums_exactly_to_the_score_at_any_time(j, days_later):
    sequence = journey(*j)
    state, _, ledger = run(*sequence)
    at = state.updated_at + timedelta(days=days_later)
    explanation = explain(hits_of(ledger), state.fit_ledger, MODEL, at)
    assert sum(line.value_now for line in explanation.lines) == explanation.score
    assert explanation.engagement == engagement_at(state.groups, MODEL, at)
    assert explanation.fit == state.fit
    if days_later == 0:
        assert explanation.score == state.score


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(POSITIVE), min_size=1, max_size=20), st.lists(st.integers(0, 300), min_size=2, max_size=6))
def test_decay_never_raises_positive_engagement_over_time(kinds, offsets):
    state, _, _ = run(*journey(kinds, [1] * len(kinds)))
    values = [engagement_at(state.groups, MODEL, state.updated_at + timedelta(days=d)) for d in sorted(offsets)]
    assert values == sorted(values, reverse=True)


@settings(max_examples=150, deadline=None)
@given(journeys, st.integers(min_value=0, max_value=100))
def test_group_caps_and_rule_limits_are_never_exceeded(j, days_later):
    state, _, ledger = run(*journey(*j))
    at = state.updated_at + timedelta(days=days_later)
    for name, value in group_values(state.groups, MODEL, at).items():
        cap = MODEL.group(name).cap
        explanation = explain(hits_of(ledger), state.fit_ledger, MODEL, at)
        contributed = sum(line.value_now for line in explanation.lines if line.group == name)
        if cap is not None:
            assert contributed <= cap
    for rule in MODEL.engagement_rules:
        if rule.limit and rule.limit.days is None:
            assert state.rule_hits.get(rule.id, 0) <= rule.limit.count
        if rule.limit and rule.limit.days is not None:
            times = sorted(OCCURRED[e.touchpoint_id] for e in ledger if e.rule_id == rule.id and not e.capped)
            for i, t in enumerate(times):
                window = [u for u in times if t - timedelta(days=rule.limit.days) < u <= t]
                assert len(window) <= rule.limit.count


@settings(max_examples=200, deadline=None)
@given(journeys)
def test_each_change_starts_where_the_last_ended_and_matches_the_state(j):
    state, changes, _ = run(*journey(*j))
    for before, after in zip(changes, changes[1:]):
        assert after.from_stage is before.to_stage
    assert changes[-1].to_stage is state.stage


def test_crossing_fires_once_and_rearms_only_below_the_gap():
    t = Thresholds(mql=65, sql=1000, recycle_gap=10)
    stage, fired = Stage.LEAD, []
    for score in [60, 66, 70, 64, 58, 66, 54, 60, 65, 80]:
        for target in plan_transitions(stage, score, 0, t):
            fired.append((score, target))
            stage = target
    # up at 66; hovering 64/58/66 fires nothing; below 55 recycles; 65 qualifies again
    assert fired == [(66, Stage.MQL), (54, Stage.LEAD), (65, Stage.MQL)]


def test_an_mql_that_cools_down_is_recycled_at_its_review_time_and_can_qualify_again():
    manager = {"job_title": "Marketing Manager", "company_size": 250}  # fit 20
    state, changes, _ = run(tp("form_submitted", 0, profile=manager))
    assert state.stage is Stage.MQL and state.review_at is not None
    just_before = reevaluate(state, MODEL, state.review_at - timedelta(minutes=1))
    assert just_before.changes == () and just_before.state.stage is Stage.MQL
    at_review = reevaluate(state, MODEL, state.review_at)
    assert [(c.from_stage, c.to_stage, c.cause) for c in at_review.changes] == [(Stage.MQL, Stage.LEAD, StageCauseKind.DECAY)]
    assert at_review.state.score < 55
    again = score_touchpoint(at_review.state, tp("form_submitted", 60 * 24 * 200), MODEL)
    assert [c.to_stage for c in again.changes] == [Stage.MQL]


def test_disqualifier_stops_qualification_with_a_reason():
    state, changes, _ = run(tp("demo_requested", 0, email="spy@hubspot.com", profile=BUSINESS))
    assert state.stage is Stage.DISQUALIFIED
    assert changes[-1].cause is StageCauseKind.DISQUALIFIED and "competitor" in changes[-1].reason
    later = score_touchpoint(state, tp("form_submitted", 5, email="spy@hubspot.com"), MODEL)
    assert later.state.stage is Stage.DISQUALIFIED and later.changes == ()


def test_grade_grid():
    assert MODEL.grades.grade(35, 70) == "A1"
    assert MODEL.grades.grade(20, 40) == "B2"
    assert MODEL.grades.grade(0, 0) == "D3"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=-20, max_value=200), min_size=1, max_size=40))
def test_crossings_fire_once_and_rearm_only_below_the_gap(scores):
    t = Thresholds(mql=65, sql=10_000, recycle_gap=10)
    stage, armed = Stage.LEAD, True
    for score in scores:
        fired = plan_transitions(stage, score, 0, t)
        if fired == [Stage.MQL]:
            assert armed and score >= 65  # only an upward crossing by an armed lead fires
            armed = False
        elif fired == [Stage.LEAD]:
            assert score < 55  # recycling only below the gap
            armed = True
        else:
            assert fired == []
            assert not (stage is Stage.LEAD and score >= 65)
            assert not (stage is Stage.MQL and score < 55)
        stage = fired[-1] if fired else stage


def test_objection_disqualifies():
    state, changes, _ = run(tp("form_submitted", 0, profile=BUSINESS, objection=True))
    assert state.stage is Stage.DISQUALIFIED and "objected" in state.disqualified_reason


KINDS = ["page_viewed", "email_clicked", "form_submitted", "content_downloaded", "webinar_attended", "newsletter_confirmed",
         "demo_requested", "unsubscribed", "event_visited"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 60 * 24 * 90),
                          st.sampled_from([{}, {}, BUSINESS, {"job_title": "Student", "company_size": 1}, {"country": "DE"}]),
                          st.sampled_from([None, "ada@acme.example", "ada@gmail.com"])),
                min_size=1, max_size=25),
       st.integers(0, 60 * 24 * 200))
def test_a_replay_applies_the_same_step_as_the_live_path_in_any_order(events, later):
    """Touchpoints out of time order (as Kafka may hold them), profiles arriving late, an e-mail learnt later:
    the replay's lead and ledger are the ones scoring touchpoint by touchpoint gives. A replay sets the decay
    review time once, on the final state; the lead is the same as when every step set it (the live path)."""
    from leadflow_scoring.domain.simulation import replay_history

    history = [
        Touchpoint(event_id=f"ev-{i}", type=kind, occurred_at=T0 + timedelta(minutes=m), email=email,
                   anonymous_id="anon-1", profile=MappingProxyType(profile),
                   properties=MappingProxyType({"page_url": "https://acme.example/pricing"}))
        for i, (kind, m, profile, email) in enumerate(events)
    ]
    now = T0 + timedelta(minutes=later)
    live, _, ledger = run(*history)
    if live.review_at is not None and live.review_at <= now:
        live = reevaluate(live, MODEL, live.review_at).state
    replayed = replay_history(history, MODEL, now)
    assert replayed is not None and replayed.state == live
    assert [entry for entry, _ in replayed.ledger] == ledger
