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
from leadflow_scoring.domain.scoring import lead_id_for, score_touchpoint, top_reasons
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
    assert [e.points for e in pricing] == [10, 10, 10, 0, 0]
    assert pricing[-1].capped
    assert state.rule_hits["pricing-page"] == 3


def test_ledger_and_fit_sum_to_the_score():
    state, _, ledger = run(tp("form_submitted", 0, profile=BUSINESS), tp("email_clicked", 1), tp("unsubscribed", 2))
    assert sum(e.points for e in ledger) == state.engagement
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
         "content_downloaded", "newsletter_confirmed"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(KINDS), min_size=1, max_size=30))
def test_scoring_is_deterministic_and_the_ledger_sums_to_the_score(kinds):
    sequence = [tp(k, i, profile=BUSINESS if i == 0 else None, page_url="https://a.example/pricing") for i, k in enumerate(kinds)]
    first = run(*sequence)
    second = run(*sequence)
    assert first[0] == second[0]
    state, changes, ledger = first
    assert sum(e.points for e in ledger) == state.engagement
    # every change starts where the previous one ended
    for before, after in zip(changes, changes[1:]):
        assert after.from_stage is before.to_stage
    assert changes[-1].to_stage is state.stage
