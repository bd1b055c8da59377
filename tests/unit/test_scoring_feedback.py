"""Sales feedback in the pure scoring domain: accepted -> SAL, rejected -> recycled with the reason, won ->
customer, lost -> lost; a lead sent back qualifies again only with new engagement or a fast track; the lead's
current assignment is the latest one handover announced."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow_events import FeedbackDecision, RejectionReason, Stage, StageCauseKind
from leadflow_scoring.domain.assignment import Assignment, latest
from leadflow_scoring.domain.feedback import SalesFeedback, apply_feedback
from leadflow_scoring.domain.leads import Touchpoint
from leadflow_scoring.domain.model import Thresholds
from leadflow_scoring.domain.rescoring import rescore
from leadflow_scoring.domain.scoring import score_touchpoint
from leadflow_scoring.domain.simulation import replay_history
from leadflow_scoring.domain.stages import plan_transitions
from leadflow_scoring.model_file import load_model
from leadflow_scoring.stage_events import stage_event

MODEL = load_model()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MANAGER = {"job_title": "Marketing Manager", "company_size": 250}  # fit 20: not enough for a fast track alone


def tp(kind: str, minutes: float = 0, **props) -> Touchpoint:
    return Touchpoint(
        event_id=f"ev-{kind}-{minutes}", type=kind, occurred_at=T0 + timedelta(minutes=minutes), email="ada@acme.example",
        anonymous_id=None, profile=MappingProxyType(MANAGER if kind == "form_submitted" else {}), properties=MappingProxyType(props),
    )


def sql_lead():
    state = None
    for t in (tp("form_submitted", 0), tp("webinar_attended", 1), tp("demo_requested", 2)):
        state = score_touchpoint(state, t, MODEL).state
    assert state.stage is Stage.SQL
    return state


def fb(decision: FeedbackDecision, minutes: float = 30, **kw) -> SalesFeedback:
    return SalesFeedback(handover_id="ho_1", decision=decision, at=T0 + timedelta(minutes=minutes), **kw)


def test_acceptance_makes_the_lead_sal_with_a_sales_feedback_cause():
    lead = sql_lead()
    scored = apply_feedback(lead, fb(FeedbackDecision.ACCEPTED, member="anna", note="Calling today"), MODEL.thresholds)
    [change] = scored.changes
    assert (change.from_stage, change.to_stage, change.cause) == (Stage.SQL, Stage.SAL, StageCauseKind.SALES_FEEDBACK)
    assert change.handover_id == "ho_1" and change.rejection_reason is None
    assert "accepted" in change.reason and "anna" in change.reason and "Calling today" in change.reason
    assert scored.state.stage is Stage.SAL and scored.state.stage_changed_at == T0 + timedelta(minutes=30)
    assert (scored.state.score, scored.state.fit) == (lead.score, lead.fit)  # feedback scores nothing


def test_rejection_recycles_to_nurture_with_the_reason():
    lead = sql_lead()
    scored = apply_feedback(lead, fb(FeedbackDecision.REJECTED, reason=RejectionReason.NOT_NOW, note="Q2"), MODEL.thresholds)
    [change] = scored.changes
    assert (change.from_stage, change.to_stage) == (Stage.SQL, Stage.LEAD)
    assert change.rejection_reason == "not_now" and "not_now" in change.reason and "Q2" in change.reason
    assert scored.state.stage is Stage.LEAD
    assert scored.state.requalify_at == lead.score + MODEL.thresholds.requalify_gap == lead.score + 30
    event = stage_event(change, scored.state, MODEL, None)
    assert event.data.cause.kind is StageCauseKind.SALES_FEEDBACK
    assert event.data.cause.rejection_reason is RejectionReason.NOT_NOW and event.data.cause.handover_id == "ho_1"


def test_won_and_lost_close_an_accepted_lead():
    sal = apply_feedback(sql_lead(), fb(FeedbackDecision.ACCEPTED), MODEL.thresholds).state
    won = apply_feedback(sal, fb(FeedbackDecision.WON, 90, amount=12000.0, currency="EUR", outcome_reason="budget"), MODEL.thresholds)
    assert [(c.from_stage, c.to_stage) for c in won.changes] == [(Stage.SAL, Stage.CUSTOMER)]
    assert "won (12,000.00 EUR): budget" in won.changes[0].reason
    lost = apply_feedback(sal, fb(FeedbackDecision.LOST, 90), MODEL.thresholds)
    assert [(c.from_stage, c.to_stage) for c in lost.changes] == [(Stage.SAL, Stage.LOST)]


def test_an_outcome_for_an_sql_passes_sal_so_the_funnel_stays_whole():
    won = apply_feedback(sql_lead(), fb(FeedbackDecision.WON), MODEL.thresholds)
    assert [c.to_stage for c in won.changes] == [Stage.SAL, Stage.CUSTOMER]


@pytest.mark.parametrize("stage", [Stage.LEAD, Stage.MQL, Stage.OBJECTED, Stage.DISQUALIFIED, Stage.CUSTOMER, Stage.LOST])
@pytest.mark.parametrize("decision", [FeedbackDecision.ACCEPTED, FeedbackDecision.REJECTED])
def test_feedback_that_does_not_fit_the_stage_changes_nothing(stage, decision):
    lead = replace(sql_lead(), stage=stage)
    scored = apply_feedback(lead, fb(decision, reason=RejectionReason.OTHER), MODEL.thresholds)
    assert scored.changes == () and scored.state is lead


def test_repeated_feedback_changes_nothing_the_second_time():
    sal = apply_feedback(sql_lead(), fb(FeedbackDecision.ACCEPTED), MODEL.thresholds).state
    assert apply_feedback(sal, fb(FeedbackDecision.ACCEPTED), MODEL.thresholds).changes == ()


def test_a_lead_sent_back_does_not_requalify_at_its_next_page_view():
    lead = sql_lead()
    back = apply_feedback(lead, fb(FeedbackDecision.REJECTED, reason=RejectionReason.NOT_NOW), MODEL.thresholds).state
    later = score_touchpoint(back, tp("page_viewed", 40), MODEL)
    assert later.changes == () and later.state.stage is Stage.LEAD and later.state.requalify_at == back.requalify_at


def test_a_lead_sent_back_requalifies_with_enough_new_engagement_and_is_sql_again():
    back = apply_feedback(sql_lead(), fb(FeedbackDecision.REJECTED, reason=RejectionReason.NOT_NOW), MODEL.thresholds).state
    state, changes = back, []
    for i, kind in enumerate(["webinar_attended", "content_downloaded", "event_visited", "webinar_attended"]):
        scored = score_touchpoint(state, tp(kind, 60 + i, webinar=f"w{i}", asset=f"a{i}", event=f"e{i}"), MODEL)
        state, changes = scored.state, changes + list(scored.changes)
        if changes:
            break
    assert state.score >= back.requalify_at
    assert [(c.from_stage, c.to_stage) for c in changes] == [(Stage.LEAD, Stage.MQL), (Stage.MQL, Stage.SQL)]
    assert "Sales had sent it back" in changes[-1].reason
    assert state.stage is Stage.SQL and state.requalify_at is None


def test_a_new_demo_request_fast_tracks_a_lead_sent_back():
    back = apply_feedback(sql_lead(), fb(FeedbackDecision.REJECTED, reason=RejectionReason.NOT_NOW), MODEL.thresholds).state
    again = score_touchpoint(back, tp("demo_requested", 60 * 24 * 30), MODEL)
    assert again.state.stage is Stage.SQL and again.changes[-1].cause is StageCauseKind.FAST_TRACK


def test_plan_transitions_honours_the_requalification_score():
    t = Thresholds(mql=65, sql=100, recycle_gap=10, sql_min_fit=10)
    assert plan_transitions(Stage.LEAD, 139, 30, t, requalify_at=140) == []
    assert plan_transitions(Stage.LEAD, 140, 30, t, requalify_at=140) == [Stage.MQL, Stage.SQL]
    assert plan_transitions(Stage.LEAD, 70, 30, t, requalify_at=140, fast_tracked=True) == [Stage.MQL, Stage.SQL]


def test_a_model_change_alone_does_not_hand_a_lead_sent_back_over_again():
    history = [tp("form_submitted", 0), tp("webinar_attended", 1), tp("demo_requested", 2)]
    back = apply_feedback(sql_lead(), fb(FeedbackDecision.REJECTED, reason=RejectionReason.DEFINITIONAL), MODEL.thresholds).state
    replayed = replay_history(history, MODEL, T0 + timedelta(hours=1))
    rescored = rescore(back, replayed, MODEL, T0 + timedelta(hours=1))
    assert rescored.changes == () and rescored.state.stage is Stage.LEAD and rescored.state.requalify_at == back.requalify_at


# ------------------------------------------------------------------------------------------ assignments

ANNA = Assignment("enterprise-dach", "anna", T0)
JONAS = Assignment("enterprise-dach", "jonas", T0 + timedelta(hours=1))  # the SLA job reassigned the lead


def test_the_first_assignment_is_taken_and_a_later_one_replaces_it():
    assert latest(None, ANNA) == ANNA
    assert latest(ANNA, JONAS) == JONAS


def test_an_older_assignment_arriving_late_does_not_undo_a_newer_one():
    assert latest(JONAS, ANNA) == JONAS


def test_the_same_assignment_twice_changes_nothing():
    assert latest(latest(None, ANNA), ANNA) == ANNA


def test_an_unrouted_lead_clears_the_assignment_it_had_from_an_earlier_handover():
    nobody = Assignment(None, None, T0 + timedelta(days=30))  # qualified again; no routing rule matched this time
    assert latest(JONAS, nobody) == nobody


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=20), st.randoms(use_true_random=False))
def test_whatever_order_and_repeats_the_events_come_in_the_latest_assignment_wins(minutes, rnd):
    made = [Assignment("team", f"m{i}", T0 + timedelta(minutes=m)) for i, m in enumerate(minutes)]
    delivered = made + rnd.sample(made, len(made))  # every event, then a replay of all of them in another order
    current = None
    for event in delivered:
        current = latest(current, event)
    newest = max(a.assigned_at for a in made)
    assert current is not None and current.assigned_at == newest
