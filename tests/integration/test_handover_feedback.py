"""Sales feedback and acceptance deadlines on the real broker and database.

The handover service consumes stage events from Kafka, records handovers in PostgreSQL, sends
notifications to real local HTTP receivers, takes accept / reject / outcome through its API and
through signed links, escalates handovers nobody accepted in time (two instances at once), and
publishes ``leadflow.handover.*`` events (assignments, decisions, missed deadlines) through its outbox -
read back from Kafka here.
"""

from __future__ import annotations

import base64
import contextlib
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from leadflow_events import (
    HANDOVER_ASSIGNED_V1, HANDOVER_FEEDBACK_RECORDED_V1, HANDOVER_SLA_BREACHED_V1, AssignmentReason, Stage, parse_record,
)
from leadflow_handover.app import create_app
from leadflow_handover.domain.links import LinkAction, sign_link
from leadflow_handover.settings import HandoverSettings
from leadflow_runtime.topics import create_topics
from tests.integration.test_handover_crm import eventually, fresh_topic, stage_event
from tests.support.kafka import produce, read_all
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"handover-feedback-secret-000001").decode()
ADMIN = "admin-key-for-the-feedback-tests-01"
AUTH = {"authorization": f"Bearer {ADMIN}"}
LINK_SECRET = "link-secret-for-the-feedback-tests-0123456789"
HTML = {"accept": "text/html,application/xhtml+xml"}
BASE = "http://handover"


@contextlib.asynccontextmanager
async def running(
    test_env, stages: str, feedback: str, *, group: str | None = None, destinations: list[dict[str, Any]] | None = None,
    config: str | None = None, config_dir: Path | None = None, **overrides: Any,
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """A handover service on its own stage and feedback topics, with an admin key and link secret."""
    env = {k.removeprefix("LEADFLOW_").lower(): v for k, v in test_env.env.items()}
    env.update(handover_group_id=group or f"{stages}.handover", topic_lead_stages=stages, topic_handover_feedback=feedback)
    path = None
    if config is not None:
        assert config_dir is not None
        path = config_dir / f"handover-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(config)
    settings = {
        "handover_destinations": destinations or [], "handover_destinations_file": path, "handover_admin_key": ADMIN,
        "handover_feedback_secret": LINK_SECRET, "handover_public_url": BASE, "handover_retry_schedule": (0, 0.3, 0.3),
        "handover_timeout_seconds": 5, "handover_gauge_seconds": 0.3, "handover_sla_check_seconds": 0.2, **overrides,
    }
    app = create_app(HandoverSettings(**(env | settings)))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            yield app, client


async def topics(test_env, name: str) -> tuple[str, str]:
    stages = await fresh_topic(test_env, name)
    feedback = stages.removesuffix(".lead-stages") + ".handover-feedback"
    await create_topics(test_env.infra.kafka_bootstrap, {feedback: 3})
    return stages, feedback


async def handovers(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    return (await client.get("/v1/handovers", params={"limit": 1000, **params})).json()


async def handover_of(client: httpx.AsyncClient, lead_id: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        rows = await handovers(client, lead_id=lead_id)
        return rows[0] if rows else None

    return await eventually(found, what=f"the handover of {lead_id}")


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def path_of(url: str) -> str:
    return urlsplit(url).path


async def feedback_events(test_env, topic: str, expect: int) -> list[Any]:
    records = await read_all(test_env.infra.kafka_bootstrap, topic, expect=expect, timeout=20)
    return [(r.key, parse_record(r)) for r in records]


# ------------------------------------------------------------------------------------------ the JSON API

async def test_accept_reject_and_outcome_through_the_api(test_env):
    stages, feedback = await topics(test_env, "api")
    with WebhookReceiver() as receiver:
        async with running(test_env, stages, feedback, destinations=[{"name": "crm", "url": receiver.url, "secrets": [SECRET]}]) as (_, c):
            a, b, pending = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
            await produce(test_env.infra.kafka_bootstrap, stages, [
                stage_event(Stage.SQL, "ada@acme.example", lead_id=a), stage_event(Stage.SQL, "bob@acme.example", lead_id=b),
                stage_event(Stage.SQL, "cy@acme.example", lead_id=pending), stage_event(Stage.MQL, "mql@acme.example"),
            ])
            ho_a, ho_b, ho_p = [await handover_of(c, x) for x in (a, b, pending)]
            await eventually(lambda: len(receiver.snapshot()) >= 3, what="three notifications")
            assert len(await handovers(c)) == 3  # the MQL is nobody's handover
            assert ho_a["status"] == "pending" and ho_a["respond_by"] is not None and ho_a["sla_seconds"] == 3600

            # the notification names the handover; its handover_id (the delivery id) works in the API too
            note = next(r.json for r in receiver.snapshot() if r.json["lead"]["id"] == a)
            assert note["feedback"]["handover"] == ho_a["id"] and note["feedback"]["accept_url"]

            assert (await c.post(f"/v1/handovers/{ho_a['id']}/accept")).status_code == 401
            bad = await c.post(f"/v1/handovers/{ho_a['id']}/accept", headers={"authorization": "Bearer not-the-right-key-0"})
            assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
            first = await c.post(f"/v1/handovers/{note['handover_id']}/accept", headers=AUTH, json={"note": "calling", "by": "anna"})
            assert first.status_code == 200, first.text
            accepted = first.json()
            assert accepted["id"] == ho_a["id"] and accepted["status"] == "accepted" and accepted["respond_by"] is None
            assert (accepted["note"], accepted["decided_by"], accepted["channel"]) == ("calling", "anna", "api")
            again = await c.post(f"/v1/handovers/{ho_a['id']}/accept", headers=AUTH)
            assert again.status_code == 200 and again.json()["accepted_at"] == accepted["accepted_at"]  # the same state
            conflict = await c.post(f"/v1/handovers/{ho_a['id']}/reject", headers=AUTH, json={"reason": "not_now"})
            assert conflict.status_code == 409 and conflict.headers["content-type"] == "application/problem+json"
            assert "accepted already" in conflict.json()["detail"] and conflict.json()["status"] == 409
            won = await c.post(f"/v1/handovers/{ho_a['id']}/outcome", headers=AUTH,
                               json={"outcome": "won", "amount": 12000, "currency": "EUR", "reason": "budget approved"})
            assert won.status_code == 200 and won.json()["status"] == "won" and won.json()["amount"] == 12000.0
            assert (await c.post(f"/v1/handovers/{ho_a['id']}/outcome", headers=AUTH, json={"outcome": "won"})).status_code == 200
            assert (await c.post(f"/v1/handovers/{ho_a['id']}/outcome", headers=AUTH, json={"outcome": "lost"})).status_code == 409

            unexplained = await c.post(f"/v1/handovers/{ho_b['id']}/reject", headers=AUTH, json={"reason": "other"})
            assert unexplained.status_code == 422 and "note" in unexplained.text
            assert (await c.post(f"/v1/handovers/{ho_b['id']}/reject", headers=AUTH, json={"reason": "busy"})).status_code == 422
            rejected = await c.post(f"/v1/handovers/{ho_b['id']}/reject", headers=AUTH,
                                    json={"reason": "not_now", "note": "budget in Q2"})
            assert rejected.status_code == 200 and rejected.json()["rejection_reason"] == "not_now"
            assert (await c.post(f"/v1/handovers/{ho_b['id']}/reject", headers=AUTH, json={"reason": "duplicate"})).status_code == 200
            assert (await c.post(f"/v1/handovers/{ho_b['id']}/accept", headers=AUTH)).status_code == 409
            assert (await c.post(f"/v1/handovers/{ho_b['id']}/outcome", headers=AUTH, json={"outcome": "won"})).status_code == 409

            early = await c.post(f"/v1/handovers/{ho_p['id']}/outcome", headers=AUTH, json={"outcome": "won"})
            assert early.status_code == 409 and "accept it before" in early.json()["detail"]
            missing = await c.post("/v1/handovers/ho_0000/accept", headers=AUTH)
            assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
            assert (await c.get("/v1/handovers/msg_unknown")).status_code == 404

            assert [h["id"] for h in await handovers(c, status="rejected")] == [ho_b["id"]]
            assert [h["status"] for h in await handovers(c, lead_id=a)] == ["won"]
            detail = (await c.get(f"/v1/handovers/{ho_a['id']}")).json()
            assert detail["first_delivered_at"] is not None and [d["kind"] for d in detail["deliveries"]] == ["handover"]
            metrics = (await c.get("/metrics")).text

    events = await feedback_events(test_env, feedback, expect=3)
    assert [(e.data.decision.value, e.data.lead_id) for _, e in events if e.data.lead_id == a] == [("accepted", a), ("won", a)]
    assert [(e.data.decision.value, e.data.reason.value, e.data.note) for _, e in events if e.data.lead_id == b] == [
        ("rejected", "not_now", "budget in Q2")]
    assert len(events) == 3, "a repeated answer must not publish again"
    for key, e in events:
        assert e.type == HANDOVER_FEEDBACK_RECORDED_V1 and e.subject == e.data.lead_id and key == e.data.lead_id.encode()
    assert next(e for _, e in events if e.data.decision.value == "won").data.amount == 12000.0
    assert 'leadflow_handover_decisions_total{decision="rejected",reason="not_now"}' in metrics
    assert "leadflow_handover_time_to_acceptance_seconds_count" in metrics


async def test_stage_events_after_sql_send_nothing_new_and_a_requalified_lead_is_handed_over_again(test_env):
    stages, feedback = await topics(test_env, "after-sql")
    with WebhookReceiver() as receiver:
        async with running(test_env, stages, feedback, destinations=[{"name": "crm", "url": receiver.url, "secrets": [SECRET]}]) as (_, c):
            lead = str(uuid.uuid4())
            await produce(test_env.infra.kafka_bootstrap, stages, [stage_event(Stage.SQL, "ada@acme.example", lead_id=lead)])
            first = await handover_of(c, lead)
            await c.post(f"/v1/handovers/{first['id']}/accept", headers=AUTH)
            at = datetime.now(UTC)
            await produce(test_env.infra.kafka_bootstrap, stages, [
                stage_event(Stage.SAL, "ada@acme.example", lead_id=lead, from_stage=Stage.SQL, at=at),
                stage_event(Stage.CUSTOMER, "ada@acme.example", lead_id=lead, from_stage=Stage.SAL, at=at),
                stage_event(Stage.LOST, "ada@acme.example", lead_id=lead, from_stage=Stage.SAL, at=at),
            ])
            other = str(uuid.uuid4())  # a lead sales sent back (recycled), then qualified again
            await produce(test_env.infra.kafka_bootstrap, stages, [stage_event(Stage.SQL, "bob@acme.example", lead_id=other)])
            sent_back = await handover_of(c, other)
            await c.post(f"/v1/handovers/{sent_back['id']}/reject", headers=AUTH, json={"reason": "not_now"})
            await produce(test_env.infra.kafka_bootstrap, stages, [
                stage_event(Stage.LEAD, "bob@acme.example", lead_id=other, from_stage=Stage.SQL),
                stage_event(Stage.MQL, "bob@acme.example", lead_id=other, from_stage=Stage.LEAD),
                stage_event(Stage.SQL, "bob@acme.example", lead_id=other),
            ])
            await eventually(lambda: _count(c, other, 2), what="the second handover of the requalified lead")
            await eventually(lambda: len(receiver.snapshot()) >= 3, what="three notifications")
            await _settle()
            mine = await handovers(c, lead_id=lead)
            again = await handovers(c, lead_id=other)
    notified = Counter(r.json["lead"]["id"] for r in receiver.snapshot())
    assert notified == {lead: 1, other: 2}  # SAL, customer, lost notify nobody; the requalified lead is handed over again
    assert [h["status"] for h in mine] == ["accepted"]
    assert [h["status"] for h in again] == ["pending", "rejected"]


async def _count(client: httpx.AsyncClient, lead_id: str, n: int) -> bool:
    return len(await handovers(client, lead_id=lead_id)) >= n


async def _settle(seconds: float = 1.0) -> None:
    import asyncio

    await asyncio.sleep(seconds)


# ------------------------------------------------------------------------------------------ signed links

async def test_signed_links_confirm_first_then_record_and_refuse_forgeries(test_env):
    stages, feedback = await topics(test_env, "links")
    with WebhookReceiver() as receiver:
        async with running(test_env, stages, feedback, destinations=[{"name": "crm", "url": receiver.url, "secrets": [SECRET]}]) as (_, c):
            yes, no = str(uuid.uuid4()), str(uuid.uuid4())
            await produce(test_env.infra.kafka_bootstrap, stages, [
                stage_event(Stage.SQL, "ada@acme.example", lead_id=yes, profile={"first_name": "Ada", "company": "Acme <GmbH>"}),
                stage_event(Stage.SQL, "bob@acme.example", lead_id=no),
            ])
            await eventually(lambda: len(receiver.snapshot()) >= 2, what="two notifications")
            links = {r.json["lead"]["id"]: r.json["feedback"] for r in receiver.snapshot()}
            accept_url, reject_url = links[yes]["accept_url"], links[no]["reject_url"]
            assert accept_url.startswith(f"{BASE}/feedback/ho_") and links[yes]["links_expire_at"]

            # a mail scanner fetching the link changes nothing
            page = await c.get(path_of(accept_url), params={"token": token_of(accept_url)}, headers=HTML)
            assert page.status_code == 200 and "<form method=post>" in page.text and "Acme &lt;GmbH&gt;" in page.text
            assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
            as_json = await c.get(path_of(accept_url), params={"token": token_of(accept_url)})
            assert as_json.status_code == 200 and as_json.json()["status"] == "pending"
            assert (await handover_of(c, yes))["status"] == "pending"

            done = await c.post(path_of(accept_url), data={"token": token_of(accept_url), "note": "on it"}, headers=HTML)
            assert done.status_code == 200 and "Accepted" in done.text
            accepted = await handover_of(c, yes)
            assert (accepted["status"], accepted["channel"], accepted["note"]) == ("accepted", "link", "on it")
            twice = await c.post(accept_url)  # the token in the query string works too; JSON without Accept: text/html
            assert twice.status_code == 200 and twice.json()["status"] == "accepted"
            revisit = await c.get(accept_url, headers=HTML)
            assert revisit.status_code == 200 and "already" in revisit.text

            form = await c.get(reject_url, headers=HTML)
            assert form.status_code == 200 and "<select name=reason required>" in form.text and "not_a_fit" in form.text
            no_reason = await c.post(path_of(reject_url), data={"token": token_of(reject_url)}, headers=HTML)
            assert no_reason.status_code == 422 and "Choose a reason" in no_reason.text
            other = await c.post(reject_url, data={"reason": "other"})
            assert other.status_code == 422 and other.headers["content-type"] == "application/problem+json"
            sent_back = await c.post(path_of(reject_url), data={"token": token_of(reject_url), "reason": "not_a_fit"}, headers=HTML)
            assert sent_back.status_code == 200 and "Sent back" in sent_back.text, sent_back.text
            assert (await handover_of(c, no))["rejection_reason"] == "not_a_fit"
            accept_instead = links[no]["accept_url"]
            late = await c.post(accept_instead, headers=HTML)
            assert late.status_code == 409 and "rejected already" in late.text

            ho_no = (await handover_of(c, no))["id"]
            tampered = token_of(reject_url)[:-3] + ("AAA" if not token_of(reject_url).endswith("AAA") else "BBB")
            forged = await c.post(path_of(reject_url), data={"token": tampered, "reason": "duplicate"})
            assert forged.status_code == 403 and forged.headers["content-type"] == "application/problem+json"
            swapped = await c.get(path_of(accept_url).replace("/accept", "/reject"), params={"token": token_of(accept_url)})
            assert swapped.status_code == 403  # an accept token does not reject
            cross = await c.get(f"/feedback/{ho_no}/accept", params={"token": token_of(accept_url)})
            assert cross.status_code == 403  # nor does it work for another handover
            assert (await c.get(path_of(accept_url), headers=HTML)).status_code == 403  # no token at all

            expired = sign_link(LINK_SECRET.encode(), ho_no, LinkAction.REJECT, None, int(datetime.now(UTC).timestamp()) - 5)
            gone = await c.post(f"/feedback/{ho_no}/reject", data={"token": expired, "reason": "duplicate"}, headers=HTML)
            assert gone.status_code == 410 and "expired" in gone.text
            assert (await c.get(f"/feedback/{ho_no}/maybe", params={"token": expired})).status_code == 404
            assert (await handover_of(c, no))["rejection_reason"] == "not_a_fit"  # nothing forged got through

    events = await feedback_events(test_env, feedback, expect=2)
    assert sorted((e.data.decision.value, e.data.channel.value) for _, e in events) == [("accepted", "link"), ("rejected", "link")]


async def test_links_are_off_without_a_secret(test_env):
    stages, feedback = await topics(test_env, "no-links")
    with WebhookReceiver() as receiver:
        async with running(test_env, stages, feedback, handover_feedback_secret=None,
                           destinations=[{"name": "crm", "url": receiver.url, "secrets": [SECRET]}]) as (_, c):
            lead = str(uuid.uuid4())
            await produce(test_env.infra.kafka_bootstrap, stages, [stage_event(Stage.SQL, "ada@acme.example", lead_id=lead)])
            await eventually(lambda: receiver.snapshot(), what="a notification")
            ho = await handover_of(c, lead)
            r = await c.get(f"/feedback/{ho['id']}/accept", params={"token": "1.x.y"})
    body = receiver.snapshot()[0].json
    assert body["feedback"]["handover"] == ho["id"] and body["feedback"]["accept_url"] is None
    assert r.status_code == 404 and "LEADFLOW_HANDOVER_FEEDBACK_SECRET" in r.json()["detail"]


# ------------------------------------------------------------------------------------------ deadlines

def sla_config(sales_url: str, lead_url: str) -> str:
    return f"""
destinations:
  - {{name: sales, url: "{sales_url}", secrets: ["{SECRET}"]}}
  - {{name: team-lead, url: "{lead_url}", secrets: ["{SECRET}"], stages: [lead]}}
teams:
  - name: duo
    members: [{{id: anna, name: Anna}}, {{id: ben, name: Ben}}]
    sla: {{escalate_to: team-lead, reassign: true}}
  - name: solo
    members: [{{id: sam}}]
    sla: {{accept_within_minutes: 0.02, escalate_to: team-lead}}
routing:
  rules:
    - {{name: solo, team: solo, when: {{countries: [FR]}}}}
    - {{name: all, team: duo}}
"""


async def test_a_missed_deadline_is_escalated_once_reassigned_and_announced_with_two_instances(test_env, tmp_path):
    stages, feedback = await topics(test_env, "sla")
    group = f"{stages}.shared"
    with WebhookReceiver() as sales, WebhookReceiver() as team_lead:
        text = sla_config(sales.url, team_lead.url)
        common = {"group": group, "config": text, "config_dir": tmp_path, "handover_sla_seconds": 1.0}
        async with running(test_env, stages, feedback, **common) as (_, c), running(test_env, stages, feedback, **common):
            lead, solo = str(uuid.uuid4()), str(uuid.uuid4())
            await produce(test_env.infra.kafka_bootstrap, stages, [
                stage_event(Stage.SQL, "ada@acme.example", lead_id=lead),
                stage_event(Stage.SQL, "sam@acme.example", lead_id=solo, profile={"country": "FR"}),
            ])
            first = await handover_of(c, lead)
            assert first["member"] == "anna" and first["sla_seconds"] == 1.0

            def reassigned() -> list[Any]:
                return [r for r in sales.snapshot() if (r.json.get("escalation") or {}).get("kind") == "reassigned"]

            await eventually(reassigned, what="the reassignment message to the next rep")
            anna_link = next(r.json["feedback"]["accept_url"] for r in sales.snapshot()
                             if r.json["lead"]["id"] == lead and not r.json.get("escalation"))
            to_ben = reassigned()[0].json
            assert to_ben["assignee"]["member_id"] == "ben" and to_ben["escalation"]["missed_by"] == "anna"
            assert "reassigned: anna did not accept within 1 s" in to_ben["assignee"]["reason"]
            stale = await c.post(anna_link)  # anna's link stopped working when the lead went to ben
            assert stale.status_code == 409 and "reassigned" in stale.json()["detail"]
            # ben accepts with the link of his message, which ends the deadlines
            taken = await c.post(to_ben["feedback"]["accept_url"])
            if taken.status_code == 409:  # the next deadline passed before the test got here; take the newest link
                newest = [r.json for r in reassigned() if r.json["lead"]["id"] == lead][-1]
                taken = await c.post(newest["feedback"]["accept_url"])
            assert taken.status_code == 200 and taken.json()["status"] == "accepted"
            solo_ho = await eventually(lambda: _escalated(c, solo), what="the solo team's escalation")
            await _settle(2.0)  # nothing more may happen: the lead is accepted, the solo handover escalated for good
            done = (await c.get(f"/v1/handovers/{first['id']}")).json()
            solo_done = (await c.get(f"/v1/handovers/{solo_ho['id']}")).json()
            assignments = (await c.get("/v1/assignments", params={"lead_id": lead})).json()
            metrics = (await c.get("/metrics")).text

    escalations = done["escalations"]
    assert [e["number"] for e in escalations] == list(range(1, len(escalations) + 1))  # each deadline once, in order
    assert escalations[0]["missed_by"] == "anna" and escalations[0]["reassigned_to"] == "ben"
    assert escalations[0]["escalated_to"] == "team-lead"
    assert all(a["deadline"] < b["deadline"] for a, b in zip(escalations, escalations[1:]))
    assert done["respond_by"] is None and done["status"] == "accepted"
    kinds = Counter(d["kind"] for d in done["deliveries"])
    assert kinds == {"handover": 1, "escalation": len(escalations), "reassignment": len(escalations)}
    told = [r.json for r in team_lead.snapshot() if r.json["lead"]["id"] == lead]
    assert len(told) == len({r["handover_id"] for r in told}) == len(escalations)  # two instances, no double escalation
    assert told[0]["escalation"]["kind"] == "sla_missed" and told[0]["assignee"]["member_id"] == "ben"
    assert [a["member"] for a in reversed(assignments)][:2] == ["anna", "ben"]

    # the solo team: nobody to reassign to; escalated once, then left alone
    assert [(e["missed_by"], e["reassigned_to"]) for e in solo_done["escalations"]] == [("sam", None)]
    assert solo_done["respond_by"] is None and solo_done["status"] == "pending" and solo_done["member"] == "sam"
    assert len([r for r in team_lead.snapshot() if r.json["lead"]["id"] == solo]) == 1
    assert "leadflow_handover_sla_breaches_total" in metrics

    reassignments = [e["reassigned_to"] for e in escalations if e["reassigned_to"]]
    events = await feedback_events(test_env, feedback, expect=len(escalations) + 2 + 2 + len(reassignments))
    assert len(events) == len(escalations) + 2 + 2 + len(reassignments)  # breaches, the acceptance, assignments
    breaches = [e for _, e in events if e.type == HANDOVER_SLA_BREACHED_V1]
    assert sorted((e.data.lead_id, e.data.escalation) for e in breaches) == sorted(
        [(lead, n) for n in range(1, len(escalations) + 1)] + [(solo, 1)])
    assert len({e.id for e in breaches}) == len(breaches)
    accepted = [e for _, e in events if e.type == HANDOVER_FEEDBACK_RECORDED_V1]
    assert [(e.data.lead_id, e.data.sla_breached, e.data.member) for e in accepted] == [(lead, True, accepted[0].data.member)]
    assert accepted[0].data.member != "anna"

    # who has each lead, announced when it was handed over and again at every reassignment, in that order
    announced = [(key, e) for key, e in events if e.type == HANDOVER_ASSIGNED_V1]
    assert all(key == e.data.lead_id.encode() and e.subject == e.data.lead_id for key, e in announced)
    assert [(e.data.member, e.data.reason) for _, e in announced if e.data.lead_id == lead] == [
        ("anna", AssignmentReason.ROUTING), *[(m, AssignmentReason.SLA_REASSIGNMENT) for m in reassignments]]
    assert [(e.data.team, e.data.member, e.data.rule) for _, e in announced if e.data.lead_id == solo] == [("solo", "sam", "solo")]
    assert {e.data.handover_id for _, e in announced if e.data.lead_id == lead} == {first["id"]}
    assert len({e.id for _, e in announced}) == len(announced)
    assert [e.data.assigned_at for _, e in announced if e.data.lead_id == lead] == sorted(
        e.data.assigned_at for _, e in announced if e.data.lead_id == lead)


async def _escalated(client: httpx.AsyncClient, lead_id: str) -> dict[str, Any] | None:
    rows = await handovers(client, lead_id=lead_id)
    return rows[0] if rows and rows[0]["escalations"] else None


async def test_no_deadline_when_the_sla_is_off_and_none_after_an_answer(test_env):
    stages, feedback = await topics(test_env, "no-sla")
    async with running(test_env, stages, feedback, handover_sla_seconds=0) as (_, c):
        lead = str(uuid.uuid4())
        await produce(test_env.infra.kafka_bootstrap, stages, [stage_event(Stage.SQL, "ada@acme.example", lead_id=lead)])
        ho = await handover_of(c, lead)
        await _settle(1.0)
        ho = (await c.get(f"/v1/handovers/{ho['id']}")).json()
    assert ho["respond_by"] is None and ho["sla_seconds"] is None and ho["escalations"] == []


async def test_an_objection_cancels_the_pending_handover(test_env):
    stages, feedback = await topics(test_env, "objection")
    async with running(test_env, stages, feedback) as (_, c):
        lead = str(uuid.uuid4())
        await produce(test_env.infra.kafka_bootstrap, stages, [stage_event(Stage.SQL, "ada@acme.example", lead_id=lead)])
        ho = await handover_of(c, lead)
        await produce(test_env.infra.kafka_bootstrap, stages, [
            stage_event(Stage.OBJECTED, "ada@acme.example", lead_id=lead, from_stage=Stage.SQL)])

        async def cancelled() -> bool:
            return (await c.get(f"/v1/handovers/{ho['id']}")).json()["status"] == "cancelled"

        await eventually(cancelled, what="the cancellation")
        refused = await c.post(f"/v1/handovers/{ho['id']}/accept", headers=AUTH)
        after = (await c.get(f"/v1/handovers/{ho['id']}")).json()
    assert refused.status_code == 409 and "objected" in refused.json()["detail"]
    assert after["respond_by"] is None and re.search("objected", after["cancelled_reason"])
