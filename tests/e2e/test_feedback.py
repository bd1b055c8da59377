"""Sales feedback end to end: the three services as processes, a lead becomes SQL, the signed webhook arrives,
the test follows the signed accept / reject links from it like a sales rep would, and scoring moves the lead
(SAL, customer, recycled with the reason) - with the stage events on Kafka. Handover routes the leads to a team
and rep, and scoring's lead list filters on that assignment."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from standardwebhooks import Webhook

from leadflow_events import StageCauseKind, decode_event
from leadflow_scoring.domain.scoring import lead_id_for
from tests.support.kafka import read_all
from tests.support.processes import ServiceProcess, free_port, wait_for
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

SECRET = "whsec_" + base64.b64encode(b"e2e-feedback-secret-0123456789ab").decode()
ADMIN = "e2e-feedback-admin-key-0123456789"
PROFILE = {"first_name": "Ada", "last_name": "Lovelace", "company": "Acme Analytics GmbH", "job_title": "Head of Engineering",
           "company_size": 250, "country": "DE"}
HTML = {"accept": "text/html"}
ROUTING = """
teams:
  - name: enterprise-dach
    members: [{id: anna, name: Anna Schmidt}, {id: jonas, name: Jonas Weber}]
routing:
  rules:
    - {name: dach, team: enterprise-dach, when: {countries: [DE, AT, CH]}}
"""


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def services(test_env, receiver, tmp_path_factory):
    port = free_port()
    routing = tmp_path_factory.mktemp("handover") / "handover.yaml"
    routing.write_text(ROUTING)
    env = {
        **test_env.env,
        "LEADFLOW_HANDOVER_DESTINATIONS": json.dumps([{"name": "sales-crm", "url": receiver.url, "secrets": [SECRET]}]),
        "LEADFLOW_HANDOVER_DESTINATIONS_FILE": str(routing),
        "LEADFLOW_HANDOVER_FEEDBACK_SECRET": "e2e-feedback-link-secret-0123456789abcdef",
        "LEADFLOW_HANDOVER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "LEADFLOW_HANDOVER_ADMIN_KEY": ADMIN,
    }
    procs = [ServiceProcess("ingest", env).start(), ServiceProcess("scoring", env).start(),
             ServiceProcess("handover", env, port=port).start()]
    yield {p.service: p for p in procs}
    for p in procs:
        p.stop()



def qualify(ingest: str, email: str) -> str:
    for kind, props in (("form_submitted", {"form_id": "contact"}), ("demo_requested", {"form_id": "demo"})):
        r = httpx.post(f"{ingest}/v1/touchpoints", json={"type": kind, "email": email, "profile": PROFILE, "properties": props},
                       timeout=10)
        assert r.status_code == 202, r.text
    return lead_id_for(email)


def notifications_of(receiver: WebhookReceiver, lead_id: str) -> list[dict]:
    out = []
    for r in receiver.snapshot():
        payload = Webhook(SECRET).verify(r.body, r.headers)  # raises unless correctly signed and fresh
        if payload["lead"]["id"] == lead_id:
            out.append(payload)
    return out


def lead(scoring: str, lead_id: str) -> dict:
    return httpx.get(f"{scoring}/v1/leads/{lead_id}", timeout=10).json()


def follow(url: str, **form: str) -> httpx.Response:
    """What a browser does: open the link (a page, nothing recorded), then press its button (a POST of the form)."""
    page = httpx.get(url, headers=HTML, timeout=10)
    assert page.status_code == 200 and "<form method=post>" in page.text, page.text
    token = parse_qs(urlsplit(url).query)["token"][0]
    return httpx.post(url.split("?")[0], data={"token": token, **form}, headers=HTML, timeout=10)


def test_accepting_from_the_link_makes_the_lead_sal_and_won_makes_it_a_customer(services, receiver, test_env):
    scoring, handover = services["scoring"].url, services["handover"].url
    lead_id = qualify(services["ingest"].url, "ada@acme-analytics.example")
    [note] = wait_for(lambda: notifications_of(receiver, lead_id)) or [None]
    assert note is not None, "no notification arrived"
    assert note["stage"] == "sql" and note["feedback"]["respond_by"]
    handover_id = note["feedback"]["handover"]

    page = httpx.get(note["feedback"]["accept_url"], headers=HTML, timeout=10)
    assert page.status_code == 200 and "Ada Lovelace (Acme Analytics GmbH)" in page.text
    time.sleep(1.0)
    assert lead(scoring, lead_id)["stage"] == "sql", "opening the link must not accept the lead"

    accepted = follow(note["feedback"]["accept_url"])
    assert accepted.status_code == 200 and "Accepted" in accepted.text
    sal = wait_for(lambda: lead(scoring, lead_id)["stage"] == "sal" and lead(scoring, lead_id))
    assert sal, "scoring did not move the lead to SAL"
    last = sal["stage_history"][-1]
    assert (last["from_stage"], last["to_stage"], last["cause"], last["handover_id"]) == ("sql", "sal", "sales_feedback", handover_id)

    won = httpx.post(f"{handover}/v1/handovers/{handover_id}/outcome", json={"outcome": "won", "amount": 24000, "currency": "EUR"},
                     headers={"authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert won.status_code == 200 and won.json()["status"] == "won"
    assert wait_for(lambda: lead(scoring, lead_id)["stage"] == "customer"), "scoring did not make the lead a customer"

    ho = httpx.get(f"{handover}/v1/handovers/{handover_id}", timeout=10).json()
    assert ho["status"] == "won" and ho["channel"] == "api" and ho["accepted_at"] and ho["first_delivered_at"]
    assert len(notifications_of(receiver, lead_id)) == 1, "SAL and customer must not notify sales again"


async def test_the_stage_events_of_the_feedback_are_on_kafka(services, test_env):
    lead_id = lead_id_for("ada@acme-analytics.example")
    records = await read_all(test_env.infra.kafka_bootstrap, test_env.stages_topic, timeout=10)
    events = [decode_event(r.value, r.headers) for r in records if r.key == lead_id.encode()]
    changes = [(e.data.from_stage, e.data.to_stage, e.data.cause.kind) for e in events]
    assert changes[-2:] == [("sql", "sal", StageCauseKind.SALES_FEEDBACK), ("sal", "customer", StageCauseKind.SALES_FEEDBACK)]
    assert len({e.id for e in events}) == len(events)


def test_rejecting_from_the_link_recycles_with_the_reason_and_the_lead_can_come_back(services, receiver, test_env):
    scoring = services["scoring"].url
    lead_id = qualify(services["ingest"].url, "bob@acme-analytics.example")
    [note] = wait_for(lambda: notifications_of(receiver, lead_id)) or [None]
    assert note is not None, "no notification arrived"

    refused = follow(note["feedback"]["reject_url"])  # no reason chosen
    assert refused.status_code == 422
    rejected = follow(note["feedback"]["reject_url"], reason="not_now", note="budget opens in Q2")
    assert rejected.status_code == 200 and "Sent back" in rejected.text

    back = wait_for(lambda: lead(scoring, lead_id)["stage"] == "lead" and lead(scoring, lead_id))
    assert back, "scoring did not recycle the lead"
    last = back["stage_history"][-1]
    assert (last["from_stage"], last["to_stage"], last["cause"], last["rejection_reason"]) == ("sql", "lead", "sales_feedback", "not_now")
    assert "budget opens in Q2" in last["reason"] and back["requalify_at"] > back["score"]

    # a new demo request later: the lead qualifies again and is handed over again, with a new handover
    r = httpx.post(f"{services['ingest'].url}/v1/touchpoints", json={"type": "demo_requested", "email": "bob@acme-analytics.example"},
                   timeout=10)
    assert r.status_code == 202
    again = wait_for(lambda: len(notifications_of(receiver, lead_id)) >= 2 and notifications_of(receiver, lead_id))
    assert again, "the requalified lead was not handed over again"
    assert again[1]["feedback"]["handover"] != note["feedback"]["handover"]
    assert lead(scoring, lead_id)["stage"] == "sql"


def test_the_lead_list_on_scoring_filters_by_the_team_and_rep_handover_assigned(services, receiver):
    scoring, handover = services["scoring"].url, services["handover"].url
    lead_id = qualify(services["ingest"].url, "cleo@acme-analytics.example")
    [note] = wait_for(lambda: notifications_of(receiver, lead_id)) or [None]
    assert note is not None, "no notification arrived"
    member = note["assignee"]["member_id"]
    assert note["assignee"]["team"] == "enterprise-dach" and member in ("anna", "jonas")

    def listed(**params) -> dict[str, dict]:
        page = httpx.get(f"{scoring}/v1/leads", params={"limit": 100, **params}, timeout=10).json()
        return {item["lead_id"]: item for item in page["items"]}

    mine = wait_for(lambda: lead_id in listed(team="enterprise-dach") and listed(team="enterprise-dach"))
    assert mine, "scoring does not list the lead under the team handover assigned it to"
    assignment = mine[lead_id]["assignment"]
    assert (assignment["team"], assignment["member"]) == ("enterprise-dach", member) and assignment["assigned_at"]
    assert lead_id in listed(team="enterprise-dach", rep=member)
    assert lead_id not in listed(rep="jonas" if member == "anna" else "anna")
    assert lead_id not in listed(team="inbound")
    assert lead(scoring, lead_id)["assignment"]["member"] == member
    [ho] = httpx.get(f"{handover}/v1/handovers", params={"lead_id": lead_id}, timeout=10).json()
    assert (ho["team"], ho["member"]) == ("enterprise-dach", member)
