"""HTTP in, signed webhook out: the three services as real processes on the real broker and database."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from standardwebhooks import Webhook

from leadflow_scoring.domain.scoring import lead_id_for
from tests.support.processes import ServiceProcess, wait_for
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

SECRET = "whsec_" + base64.b64encode(b"e2e-test-secret-0123456789abcdef").decode()

ADA = {"first_name": "Ada", "last_name": "Lovelace", "company": "Acme Analytics GmbH", "job_title": "Head of Engineering",
       "company_size": 250, "country": "DE"}
CARLA = {"first_name": "Carla", "company": "Bigcorp AG", "job_title": "Marketing Manager", "company_size": 5000, "country": "AT"}
BOB = {"first_name": "Bob", "job_title": "Student"}

# (email, type, profile, properties, event_id)
JOURNEYS = [
    ("Ada@Acme-Analytics.example ", "form_submitted", ADA, {"form_id": "contact"}, None),
    ("ada@acme-analytics.example", "page_viewed", None, {"page_url": "https://leadflow.example/pricing"}, None),
    ("ada@acme-analytics.example", "demo_requested", None, {"form_id": "demo"}, None),
    ("bob@gmail.com", "newsletter_subscribed", BOB, {}, None),
    ("bob@gmail.com", "content_downloaded", None, {"asset": "lead-scoring-guide.pdf"}, None),
    ("carla@bigcorp.example", "form_submitted", CARLA, {"form_id": "whitepaper"}, None),
    ("carla@bigcorp.example", "webinar_attended", None, {"webinar": "Speed to lead"}, None),
    ("carla@bigcorp.example", "event_visited", None, {"event": "Hannover Messe 2026"}, None),
    ("dan@smallco.example", "page_viewed", None, {"page_url": "https://leadflow.example/blog/1"}, None),
    ("dan@smallco.example", "page_viewed", None, {"page_url": "https://leadflow.example/blog/2"}, None),
    ("eve@corp.example", "demo_requested", {"job_title": "CTO", "company_size": 80}, {}, "crm-42"),
    ("eve@corp.example", "demo_requested", {"job_title": "CTO", "company_size": 80}, {}, "crm-42"),  # resent: same id
]
QUALIFYING = {"ada@acme-analytics.example", "carla@bigcorp.example", "eve@corp.example"}


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def services(test_env, receiver):
    env = {
        **test_env.env,
        "LEADFLOW_HANDOVER_DESTINATIONS": json.dumps([{"name": "sales-crm", "url": receiver.url, "secrets": [SECRET]}]),
    }
    procs = [ServiceProcess(s, env).start() for s in ("ingest", "scoring", "handover")]
    yield {p.service: p for p in procs}
    for p in procs:
        p.stop()



def test_touchpoints_become_one_signed_notification_per_sales_qualified_lead(services, receiver):
    ingest = services["ingest"].url
    for email, kind, profile, props, event_id in JOURNEYS:
        body = {"type": kind, "email": email, "properties": props}
        if profile:
            body["profile"] = profile
        if event_id:
            body["event_id"] = event_id
        r = httpx.post(f"{ingest}/v1/touchpoints", json=body, timeout=10)
        assert r.status_code == 202, r.text
        assert r.json()["lead_key"] == email.strip().lower()

    assert wait_for(lambda: len(receiver.snapshot()) >= len(QUALIFYING), timeout=45), "no notifications arrived"
    time.sleep(2.0)  # anything extra (a duplicate) would arrive within this
    received = receiver.snapshot()

    notified = [r.json["lead"]["email"] for r in received]
    assert sorted(notified) == sorted(QUALIFYING)
    for r in received:
        payload = Webhook(SECRET).verify(r.body, r.headers)  # raises unless correctly signed and fresh
        assert r.headers["webhook-id"] == payload["handover_id"]
        assert payload["stage"] == "sql"
        assert payload["why"]
        assert payload["top_reasons"]

    scoring = services["scoring"].url
    expected = {
        "ada@acme-analytics.example": "sql", "carla@bigcorp.example": "sql", "eve@corp.example": "sql",
        "bob@gmail.com": "lead", "dan@smallco.example": "lead",
    }
    for email, stage in expected.items():
        lead = httpx.get(f"{scoring}/v1/leads/{lead_id_for(email)}", timeout=10).json()
        assert lead["stage"] == stage, (email, lead)
        assert lead["email"] == email
        assert sum(e["points"] for e in lead["ledger"]) == lead["score"]
    eve = httpx.get(f"{scoring}/v1/leads/{lead_id_for('eve@corp.example')}", timeout=10).json()
    assert eve["touchpoint_count"] == 1  # the resent demo request was recorded once
    score = httpx.get(f"{scoring}/v1/leads/{lead_id_for('carla@bigcorp.example')}/score", timeout=10).json()
    assert sum(line["value_now"] for line in score["ledger"]) == score["score"] >= 100
    assert score["grade"][0] in "ABCD" and score["grade"][1] in "123"
    assert {line["rule_id"] for line in score["ledger"]} >= {"contact-form", "webinar", "trade-fair", "business-email"}
    ada = httpx.get(f"{scoring}/v1/leads/{lead_id_for('ada@acme-analytics.example')}", timeout=10).json()
    assert [h["to_stage"] for h in ada["stage_history"]] == ["lead", "mql", "sql"]
    assert ada["stage_history"][-1]["cause"] == "fast_track"

    deliveries = httpx.get(f"{services['handover'].url}/v1/deliveries", timeout=10).json()
    assert len(deliveries) == len(QUALIFYING)
    assert all(d["status"] == "succeeded" and d["attempts"] == 1 for d in deliveries)


async def test_a_normal_run_dead_letters_nothing(services, test_env):
    from leadflow_events import dead_letter_topic
    from tests.support.kafka import read_all

    for topic in (test_env.touchpoints_topic, test_env.stages_topic):
        assert await read_all(test_env.infra.kafka_bootstrap, dead_letter_topic(topic), timeout=3) == []


def test_every_service_reports_health_and_metrics(services):
    for proc in services.values():
        live = httpx.get(f"{proc.url}/health/live", timeout=5)
        ready = httpx.get(f"{proc.url}/health/ready", timeout=5)
        assert live.status_code == 200 and live.json()["status"] == "pass"
        assert ready.status_code == 200 and set(ready.json()["checks"]) >= {"kafka"}
        metrics = httpx.get(f"{proc.url}/metrics", timeout=5)
        assert metrics.status_code == 200
        assert "leadflow_http_requests_total" in metrics.text
    assert "leadflow_stage_transitions_total" in httpx.get(f"{services['scoring'].url}/metrics").text


@pytest.mark.parametrize("service", ["ingest", "scoring", "handover"])
def test_sigterm_stops_each_service_within_ten_seconds(test_env, service):
    proc = ServiceProcess(service, test_env.env, name=f"{service}-sigterm").start()
    took = proc.stop(timeout=15)
    # uvicorn re-raises the signal after a graceful shutdown, so -15 is the clean exit code
    assert proc.proc.returncode in (0, -15)
    assert "Application shutdown complete" in proc.tail(50)
    assert took < 10
