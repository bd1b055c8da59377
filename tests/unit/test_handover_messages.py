"""What each destination is sent, rendered from one notification: Slack Block Kit, HubSpot, Salesforce."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson

from leadflow_events import (
    LEAD_STAGE_CHANGED_V1, CloudEvent, LeadProfile, LeadSnapshot, LeadStageChanged, ModelVersion, ScoreReason, Scores, Stage,
    StageCause, StageCauseKind, encode_event,
)
from leadflow_handover.destinations import DESTINATION
from leadflow_handover.notification import Assignee, build_notification
from leadflow_handover.senders.fields import mapped, resolve
from leadflow_handover.senders.hubspot import contact_properties, task_properties
from leadflow_handover.senders.salesforce import NOT_PROVIDED, lead_fields, soql_string
from leadflow_handover.senders.slack import slack_message
from leadflow_handover.stage_extras import extras_of
from tests.support.fake_crm import block_kit_problems

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ANNA = Assignee(team="inbound", member_id="anna", name="Anna Schmidt", email="anna@example.com",
                owner_ids={"hubspot": "101", "salesforce": "005A", "slack": "U024"}, rule="everyone-else",
                reason="routing rule everyone-else chose team inbound; weighted round-robin picked anna")


def change(profile: dict | None = None, to_stage: Stage = Stage.SQL, email: str | None = "ada@acme.example") -> LeadStageChanged:
    return LeadStageChanged(
        lead_id=str(uuid.uuid4()), from_stage=Stage.MQL, to_stage=to_stage, scores=Scores(score=120, fit=30, engagement=90),
        cause=StageCause(kind=StageCauseKind.FAST_TRACK, rule_id="demo", reason="Requested a demo <today> & has fit 30."),
        model=ModelVersion(id="default@1", hash="abc"), occurred_at=T0,
        lead=LeadSnapshot(email=email, profile=LeadProfile(**(profile or {}))),
        top_reasons=[ScoreReason(rule_id="demo", points=50, reason="Demo requested"),
                     ScoreReason(rule_id="careers", points=-10, reason="Visited the careers page")],
    )


ADA = {"first_name": "Ada", "last_name": "Lovelace", "company": "Acme <GmbH>", "job_title": "Head of IT", "company_size": 250,
       "country": "DE"}


def notification(profile: dict | None = ADA, assignee: Assignee | None = ANNA, raw_extras: dict | None = None, **kw) -> dict:
    c = change(profile, **kw)
    extras = extras_of(orjson.dumps({"data": raw_extras or {}}))
    return build_notification("msg_1", "ev-1", c, "https://leadflow.example/leads/{lead_id}", extras, assignee).model_dump(mode="json")


def test_slack_message_is_valid_block_kit_and_says_who_why_and_owner():
    n = notification(raw_extras={"grade": "A1", "recent_touchpoints": [{"type": "demo_requested", "occurred_at": T0.isoformat()}]})
    msg = slack_message(n)
    assert block_kit_problems(msg) == []
    blocks = msg["blocks"]
    assert blocks[0]["text"]["text"] == "Sales-qualified lead: Ada Lovelace"
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    assert "Acme &lt;GmbH&gt;" in fields  # mrkdwn control characters escaped
    assert "grade A1" in fields and "<@U024>" in fields and "mailto:ada@acme.example" in fields
    text = orjson.dumps(blocks).decode()
    assert "Requested a demo &lt;today&gt; &amp; has fit 30." in text
    assert "Demo requested (+50)" in text and "Visited the careers page (-10)" in text
    assert "Recent activity" in text
    button = next(b for b in blocks if b["type"] == "actions")["elements"][0]
    assert button["url"] == n["lead"]["url"]
    assert msg["text"].startswith("Sales-qualified lead: Ada Lovelace (Acme <GmbH>), assigned to Anna Schmidt")


def test_slack_message_for_a_lead_nobody_knows_much_about():
    n = notification(profile={}, assignee=Assignee(team="inbound", member_id=None, reason="nobody in team inbound is available"),
                     email=None)
    msg = slack_message(n)
    assert block_kit_problems(msg) == []
    assert "an unnamed lead" in msg["blocks"][0]["text"]["text"]
    assert "nobody yet" in orjson.dumps(msg).decode()


def test_slack_header_is_cut_to_the_limit():
    msg = slack_message(notification(profile={"first_name": "A" * 300}))
    assert block_kit_problems(msg) == []
    assert len(msg["blocks"][0]["text"]["text"]) == 150


def test_hubspot_contact_properties_follow_the_stage_and_the_assignee():
    d = DESTINATION.validate_python({"name": "hs", "kind": "hubspot", "token": "t", "stages": ["mql", "sql"],
                                     "properties": {"leadflow_score": "scores.score", "leadflow_grade": "grade"}})
    sql = contact_properties(d, notification())
    assert sql == {
        "email": "ada@acme.example", "firstname": "Ada", "lastname": "Lovelace", "company": "Acme <GmbH>",
        "jobtitle": "Head of IT", "country": "DE", "leadflow_score": "120",
        "lifecyclestage": "salesqualifiedlead", "hs_lead_status": "NEW", "hubspot_owner_id": "101",
    }  # nothing unknown is sent (no grade): an empty CRM field is never blanked
    mql = contact_properties(d, notification(assignee=None, to_stage=Stage.MQL))
    assert mql["lifecyclestage"] == "marketingqualifiedlead" and "hs_lead_status" not in mql and "hubspot_owner_id" not in mql


def test_hubspot_task_is_due_within_the_hour_for_the_owner():
    d = DESTINATION.validate_python({"name": "hs", "kind": "hubspot", "token": "t", "default_owner_id": "999"})
    task = task_properties(d, notification())
    assert task["hs_timestamp"] == "2026-11-02T10:00:00.000Z"
    assert task["hs_task_subject"] == "Call Ada Lovelace (Acme <GmbH>) - sales-qualified"
    assert task["hubspot_owner_id"] == "101"
    assert "Why now: Requested a demo" in task["hs_task_body"] and "- Demo requested (+50)" in task["hs_task_body"]
    assert task_properties(d, notification(assignee=None))["hubspot_owner_id"] == "999"


def test_salesforce_lead_fields_fill_the_required_ones():
    d = DESTINATION.validate_python({"name": "sf", "kind": "salesforce", "instance_url": "https://x.my.salesforce.com",
                                     "access_token": "t", "fields": {"Leadflow_Score__c": "scores.score"}})
    full = lead_fields(d, notification())
    assert full["LastName"] == "Lovelace" and full["Company"] == "Acme <GmbH>" and full["NumberOfEmployees"] == 250
    assert full["OwnerId"] == "005A" and full["Status"] == "Open - Not Contacted" and full["LeadSource"] == "Leadflow"
    assert full["Leadflow_Score__c"] == 120
    bare = lead_fields(d, notification(profile={}, assignee=None))
    assert bare["LastName"] == NOT_PROVIDED and bare["Company"] == NOT_PROVIDED and "OwnerId" not in bare


def test_soql_strings_are_escaped():
    assert soql_string("o'neil\\x@example.com") == "'o\\'neil\\\\x@example.com'"


def test_field_paths():
    doc = {"a": {"b": [{"c": 1}]}, "n": None}
    assert resolve(doc, "a.b.0.c") == 1
    assert resolve(doc, "a.x.c") is None and resolve(doc, "n.x") is None and resolve(doc, "a.b.5") is None
    assert mapped(doc, {"X": "a.b.0.c", "Y": "missing"}) == {"X": 1}


def test_optional_stage_event_fields_are_read_when_present():
    c = change(ADA)
    event = CloudEvent[LeadStageChanged](id="e1", source="/t", type=LEAD_STAGE_CHANGED_V1, time=T0, subject=c.lead_id, data=c)
    assert extras_of(encode_event(event)).recent_touchpoints is None  # v1 events carry none yet
    raw = orjson.loads(encode_event(event))
    raw["data"]["grade"] = "B2"
    raw["data"]["lead"]["properties"] = {"product_interest": "platform"}
    raw["data"]["recent_touchpoints"] = [{"type": "page_viewed", "occurred_at": "not a time"}, "junk"]
    extras = extras_of(orjson.dumps(raw))
    assert extras.grade == "B2" and extras.properties == {"product_interest": "platform"}
    n = build_notification("m", "e1", c, "u/{lead_id}", extras).model_dump(mode="json")
    assert n["grade"] == "B2" and n["lead"]["properties"]["product_interest"] == "platform"
    assert n["recent_touchpoints"] == []  # malformed entries are left out rather than stopping the handover
    assert extras_of(b"not json").grade is None
