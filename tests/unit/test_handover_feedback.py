"""The pure parts of sales feedback in the handover service: signed links, the feedback state machine,
acceptance deadlines, reassignment, the team's SLA in the file, and links in every kind of message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow_events import (
    FeedbackDecision, LeadProfile, LeadSnapshot, LeadStageChanged, ModelVersion, Scores, Stage, StageCause, StageCauseKind,
)
from leadflow_handover.config_file import ConfigFileError, parse_config
from leadflow_handover.destinations import DESTINATION
from leadflow_handover.domain.assignment import Member, Rotation, Team, assign
from leadflow_handover.domain.feedback import HandoverStatus, Outcome, decide
from leadflow_handover.domain.links import ExpiredLink, InvalidLink, LinkAction, sign_link, verify_link
from leadflow_handover.domain.sla import SlaOverride, SlaPolicy, describe, effective, is_overdue, next_deadline
from leadflow_handover.feedback_links import FeedbackLinks
from leadflow_handover.handovers import handover_id
from leadflow_handover.notification import Assignee, Escalation, build_notification
from leadflow_handover.senders.hubspot import task_properties
from leadflow_handover.senders.salesforce import lead_fields
from leadflow_handover.senders.slack import slack_message
from tests.support.fake_crm import block_kit_problems

SECRET = b"k" * 32
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())
HID = "ho_0123456789abcdef0123456789abcdef"


# ------------------------------------------------------------------------------------------ signed links

def test_a_signed_link_verifies_and_says_what_it_allows():
    token = sign_link(SECRET, HID, LinkAction.ACCEPT, "anna", T + 3600)
    claims = verify_link(SECRET, HID, LinkAction.ACCEPT, token, T)
    assert (claims.handover_id, claims.action, claims.member, claims.expires) == (HID, LinkAction.ACCEPT, "anna", T + 3600)


def test_a_link_without_a_member_verifies_too():
    token = sign_link(SECRET, HID, LinkAction.REJECT, None, T + 60)
    assert verify_link(SECRET, HID, LinkAction.REJECT, token, T).member is None


@pytest.mark.parametrize("what", ["handover", "action", "secret"])
def test_a_token_is_bound_to_its_handover_action_and_secret(what):
    token = sign_link(SECRET, HID, LinkAction.ACCEPT, "anna", T + 3600)
    handover, action, secret = HID, LinkAction.ACCEPT, SECRET
    if what == "handover":
        handover = HID[:-1] + "0"
    elif what == "action":
        action = LinkAction.REJECT
    else:
        secret = b"x" * 32
    with pytest.raises(InvalidLink):
        verify_link(secret, handover, action, token, T)


def test_tampering_with_the_expiry_or_the_member_breaks_the_signature():
    token = sign_link(SECRET, HID, LinkAction.ACCEPT, "anna", T + 60)
    expires, member, mac = token.split(".")
    later = ".".join((str(int(expires) + 86400), member, mac))
    other = sign_link(SECRET, HID, LinkAction.ACCEPT, "ben", T + 60).split(".")[1]
    for forged in (later, ".".join((expires, other, mac)), ".".join((expires, member, mac[:-2] + "AA"))):
        with pytest.raises(InvalidLink):
            verify_link(SECRET, HID, LinkAction.ACCEPT, forged, T)


@pytest.mark.parametrize("token", ["", "garbage", "1.2", "x.y.z", "1.%%%.abc", "1.a.b.c"])
def test_malformed_tokens_are_invalid(token):
    with pytest.raises(InvalidLink):
        verify_link(SECRET, HID, LinkAction.ACCEPT, token, T)


def test_an_expired_link_is_told_apart_from_a_forged_one():
    token = sign_link(SECRET, HID, LinkAction.ACCEPT, "anna", T + 60)
    with pytest.raises(ExpiredLink) as caught:
        verify_link(SECRET, HID, LinkAction.ACCEPT, token, T + 60)
    assert caught.value.expired_at == T + 60
    verify_link(SECRET, HID, LinkAction.ACCEPT, token, T + 59)


def test_feedback_links_build_urls_that_verify():
    links = FeedbackLinks("https://leadflow.example.com/", SECRET, timedelta(days=7))
    block = links.block(HID, "anna", NOW + timedelta(hours=1), NOW)
    assert block.respond_by == NOW + timedelta(hours=1) and block.links_expire_at == NOW + timedelta(days=7)
    for url, action in ((block.accept_url, LinkAction.ACCEPT), (block.reject_url, LinkAction.REJECT)):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"https://leadflow.example.com/feedback/{HID}/{action.value}"
        token = parse_qs(parts.query)["token"][0]
        assert links.verify(HID, action, token, NOW + timedelta(days=6)).member == "anna"


def test_without_a_secret_there_are_no_links_but_the_handover_and_deadline_are_named():
    block = FeedbackLinks("https://leadflow.example.com").block(HID, "anna", None, NOW)
    assert (block.handover, block.accept_url, block.reject_url, block.links_expire_at) == (HID, None, None, None)


def test_handover_ids_are_deterministic_per_stage_event():
    assert handover_id("ev-1") == handover_id("ev-1") != handover_id("ev-2")
    assert handover_id("ev-1").startswith("ho_") and len(handover_id("ev-1")) == 35


# ------------------------------------------------------------------------------------------ state machine

A, R, W, L = FeedbackDecision.ACCEPTED, FeedbackDecision.REJECTED, FeedbackDecision.WON, FeedbackDecision.LOST
P = HandoverStatus


@pytest.mark.parametrize(("status", "decision", "outcome", "after"), [
    (P.PENDING, A, Outcome.APPLY, P.ACCEPTED),
    (P.PENDING, R, Outcome.APPLY, P.REJECTED),
    (P.PENDING, W, Outcome.CONFLICT, P.PENDING),
    (P.PENDING, L, Outcome.CONFLICT, P.PENDING),
    (P.ACCEPTED, A, Outcome.SAME, P.ACCEPTED),
    (P.ACCEPTED, R, Outcome.CONFLICT, P.ACCEPTED),
    (P.ACCEPTED, W, Outcome.APPLY, P.WON),
    (P.ACCEPTED, L, Outcome.APPLY, P.LOST),
    (P.REJECTED, A, Outcome.CONFLICT, P.REJECTED),
    (P.REJECTED, R, Outcome.SAME, P.REJECTED),
    (P.REJECTED, W, Outcome.CONFLICT, P.REJECTED),
    (P.WON, A, Outcome.SAME, P.WON),
    (P.WON, W, Outcome.SAME, P.WON),
    (P.WON, L, Outcome.CONFLICT, P.WON),
    (P.WON, R, Outcome.CONFLICT, P.WON),
    (P.LOST, W, Outcome.CONFLICT, P.LOST),
    (P.CANCELLED, A, Outcome.CONFLICT, P.CANCELLED),
    (P.CANCELLED, R, Outcome.CONFLICT, P.CANCELLED),
])
def test_feedback_state_machine(status, decision, outcome, after):
    verdict = decide(status, decision)
    assert (verdict.outcome, verdict.status) == (outcome, after)
    assert bool(verdict.detail) == (outcome is Outcome.CONFLICT)


def test_conflicts_say_what_to_do():
    assert "accept it before" in decide(P.PENDING, W).detail
    assert "rejected already" in decide(P.REJECTED, A).detail
    assert "objected" in decide(P.CANCELLED, A).detail


@given(st.lists(st.sampled_from(list(FeedbackDecision)), max_size=8))
def test_any_sequence_of_feedback_ends_in_a_reachable_state_and_repeats_change_nothing(decisions):
    status, applied = P.PENDING, []
    for d in decisions:
        verdict = decide(status, d)
        if verdict.outcome is Outcome.APPLY:
            applied.append(d)
        else:
            assert verdict.status is status
        status = verdict.status
        assert decide(status, d).outcome is not Outcome.APPLY  # saying it again never changes anything
    assert applied in ([], [A], [R], [A, W], [A, L])  # the only paths through the machine


# ------------------------------------------------------------------------------------------ deadlines

HOUR = timedelta(hours=1)


def test_the_deadline_runs_from_the_handover():
    assert SlaPolicy(accept_within=HOUR).deadline(NOW) == NOW + HOUR
    assert SlaPolicy(accept_within=None).deadline(NOW) is None


def test_a_team_overrides_what_it_names_and_inherits_the_rest():
    default = SlaPolicy(accept_within=HOUR, escalate_to="lead-slack", reassign=False)
    assert effective(default, None) == default
    assert effective(default, SlaOverride(accept_within=timedelta(minutes=15))) == SlaPolicy(timedelta(minutes=15), "lead-slack", False)
    assert effective(default, SlaOverride(reassign=True, escalate_to="emea-lead")) == SlaPolicy(HOUR, "emea-lead", True)


def test_overdue_at_the_deadline_not_before():
    assert not is_overdue(NOW, NOW - timedelta(seconds=1))
    assert is_overdue(NOW, NOW)
    assert not is_overdue(None, NOW + timedelta(days=365))


def test_after_an_escalation_only_a_new_owner_gets_a_new_deadline():
    policy = SlaPolicy(accept_within=HOUR, reassign=True)
    assert next_deadline(policy, NOW, reassigned=True) == NOW + HOUR
    assert next_deadline(policy, NOW, reassigned=False) is None  # escalated once per deadline, then left alone


@pytest.mark.parametrize(("seconds", "text"), [(1, "1 s"), (59, "59 s"), (60, "1 min"), (3600, "1 h"), (5400, "1 h 30 min")])
def test_deadlines_are_described_in_words(seconds, text):
    assert describe(timedelta(seconds=seconds)) == text


def test_reassignment_skips_the_member_who_let_the_deadline_pass():
    team = Team("duo", (Member("anna"), Member("ben")))
    first, rotation = assign(team, Rotation(), [], NOW)
    assert first.member.id == "anna"
    again, _ = assign(team, Rotation(), [], NOW, exclude=frozenset({"anna"}))
    assert again.member.id == "ben" and "anna (had the lead and did not accept it in time)" in again.reason
    alone = Team("solo", (Member("anna"),))
    nobody, _ = assign(alone, Rotation(), [], NOW, previous_owner="anna", exclude=frozenset({"anna"}))
    assert nobody.member is None  # the owner is not kept when they are the one who missed it


def test_a_team_can_set_its_own_sla_in_the_file():
    config = parse_config("""
teams:
  - name: inbound
    members: [{id: anna}]
    sla: {accept_within_minutes: 30, escalate_to: inbound-lead, reassign: true}
  - name: enterprise
    members: [{id: eva}]
routing:
  rules: [{name: all, team: inbound}]
""")
    assert config.routing.teams["inbound"].sla == SlaOverride(timedelta(minutes=30), "inbound-lead", True)
    assert config.routing.teams["enterprise"].sla is None
    with pytest.raises(ConfigFileError, match=r"teams\[0\]\.sla\.accept_within_minutes"):
        parse_config("teams: [{name: t, members: [{id: a}], sla: {accept_within_minutes: 0}}]")
    with pytest.raises(ConfigFileError, match=r"teams\[0\]\.sla\.escalate_to"):
        parse_config("teams: [{name: t, members: [{id: a}], sla: {escalate_to: Not A Name}}]")


# ------------------------------------------------------------------------------------------ messages

ANNA = Assignee(team="inbound", member_id="anna", name="Anna Schmidt", owner_ids={"hubspot": "101"}, reason="round-robin")


def notification(feedback: bool = True, escalation: Escalation | None = None) -> dict:
    change = LeadStageChanged(
        lead_id=str(uuid.uuid4()), from_stage=Stage.MQL, to_stage=Stage.SQL, scores=Scores(score=120, fit=30, engagement=90),
        cause=StageCause(kind=StageCauseKind.FAST_TRACK, reason="Requested a demo."),
        model=ModelVersion(id="default@1", hash="abc"), occurred_at=NOW,
        lead=LeadSnapshot(email="ada@acme.example", profile=LeadProfile(first_name="Ada", last_name="Lovelace", company="Acme")),
    )
    links = FeedbackLinks("https://leadflow.example.com", SECRET if feedback else None)
    block = links.block(HID, "anna", NOW + HOUR, NOW)
    n = build_notification("msg_1", "ev-1", change, "https://leadflow.example.com/leads/{lead_id}", assignee=ANNA, feedback=block)
    doc = n.model_dump(mode="json")
    if escalation is not None:
        doc["escalation"] = escalation.model_dump(mode="json")
    return doc


def test_the_webhook_body_carries_the_handover_deadline_and_signed_links():
    n = notification()
    assert n["feedback"]["handover"] == HID and n["feedback"]["respond_by"] == "2026-11-27T10:00:00Z"
    assert n["feedback"]["accept_url"].startswith(f"https://leadflow.example.com/feedback/{HID}/accept?token=")
    assert n["escalation"] is None


def test_slack_offers_accept_and_reject_buttons_that_open_the_links():
    n = notification()
    msg = slack_message(n)
    assert block_kit_problems(msg) == []
    buttons = next(b for b in msg["blocks"] if b["type"] == "actions")["elements"]
    assert [(b["text"]["text"], b.get("style")) for b in buttons] == [("Accept", "primary"), ("Reject", "danger"), ("Open lead", None)]
    assert buttons[0]["url"] == n["feedback"]["accept_url"] and buttons[1]["url"] == n["feedback"]["reject_url"]
    assert "accept by 2026-11-27 10:00 UTC" in orjson.dumps(msg).decode()
    plain = slack_message(notification(feedback=False))
    assert [b["text"]["text"] for b in next(b for b in plain["blocks"] if b["type"] == "actions")["elements"]] == ["Open lead"]


def test_escalation_messages_say_so_in_slack():
    escalation = Escalation(kind="sla_missed", number=1, deadline=NOW + HOUR, missed_by="anna", reassigned_to="ben",
                            reason="anna did not accept within 1 h; reassigned to ben")
    msg = slack_message(notification(escalation=escalation))
    assert block_kit_problems(msg) == []
    assert msg["blocks"][0]["text"]["text"] == "Not accepted in time: Ada Lovelace"
    assert "reassigned to ben" in msg["blocks"][1]["text"]["text"]
    moved = slack_message(notification(escalation=escalation.model_copy(update={"kind": "reassigned"})))
    assert moved["blocks"][0]["text"]["text"] == "Reassigned to you: Ada Lovelace"


def test_crm_task_and_lead_text_carry_the_links():
    n = notification()
    hubspot = DESTINATION.validate_python({"name": "hs", "kind": "hubspot", "token": "pat-1"})
    body = task_properties(hubspot, n)["hs_task_body"]
    assert f"Accept: {n['feedback']['accept_url']}" in body and f"Reject (with a reason): {n['feedback']['reject_url']}" in body
    salesforce = DESTINATION.validate_python({"name": "sf", "kind": "salesforce", "instance_url": "https://x.my.salesforce.com",
                                              "access_token": "t"})
    assert n["feedback"]["accept_url"] in lead_fields(salesforce, n)["Description"]
    assert "Accept:" not in task_properties(hubspot, notification(feedback=False))["hs_task_body"]


# ------------------------------------------------------------------------------------------ assignment events

def test_an_assignment_is_announced_keyed_by_the_lead_with_an_id_per_handover_and_reassignment():
    from leadflow_events import HANDOVER_ASSIGNED_V1, HANDOVER_FEEDBACK_TOPIC, AssignmentReason, decode_event
    from leadflow_handover.feedback_events import SHARD_OFFSET, assigned

    lead = str(uuid.uuid4())

    def announce(number: int, member: str, reason: AssignmentReason):
        return assigned(HANDOVER_FEEDBACK_TOPIC, lead_id=lead, handover_id=HID, stage_event_id="ev-sql", team="duo",
                        member=member, rule="all", at=NOW + timedelta(hours=number), reason=reason, number=number)

    first, again, reassigned = (announce(0, "anna", AssignmentReason.ROUTING), announce(0, "anna", AssignmentReason.ROUTING),
                                announce(1, "ben", AssignmentReason.SLA_REASSIGNMENT))
    assert first["topic"] == HANDOVER_FEEDBACK_TOPIC and first["key"] == lead.encode() and first["shard"] >= SHARD_OFFSET
    events = [decode_event(r["value"], [(k, v.encode("latin-1")) for k, v in r["headers"]]) for r in (first, again, reassigned)]
    assert all(e.type == HANDOVER_ASSIGNED_V1 and e.subject == lead for e in events)
    assert events[0].id == events[1].id != events[2].id  # the same assignment is the same event; a reassignment a new one
    assert (events[0].data.member, events[0].data.reason, events[0].data.rule) == ("anna", AssignmentReason.ROUTING, "all")
    assert (events[2].data.member, events[2].data.reason) == ("ben", AssignmentReason.SLA_REASSIGNMENT)
    assert events[2].data.assigned_at == NOW + timedelta(hours=1) and events[2].data.handover_id == HID
