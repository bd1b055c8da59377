"""HubSpot, Salesforce and Slack destinations on the real broker and database, against real local HTTP servers.

Nothing is mocked: the handover consumes stage events from Kafka, records deliveries in
PostgreSQL and calls the fake CRMs of ``tests/support/fake_crm.py`` over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from leadflow_events import (
    LEAD_STAGE_CHANGED_V1, CloudEvent, LeadProfile, LeadSnapshot, LeadStageChanged, ModelVersion, ScoreReason, Scores, Stage,
    StageCause, StageCauseKind, encode_event,
)
from leadflow_handover.app import create_app
from leadflow_handover.settings import HandoverSettings
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS
from leadflow_runtime.topics import create_topics
from tests.support.events import T0
from tests.support.fake_crm import FakeHubSpot, FakeSalesforce, FakeSlack, block_kit_problems
from tests.support.kafka import produce

pytestmark = pytest.mark.integration

ADA = {"first_name": "Ada", "last_name": "Lovelace", "company": "Acme Analytics GmbH", "job_title": "Head of IT",
       "company_size": 250, "country": "DE"}


# ------------------------------------------------------------------------------ helpers (used by the other handover modules too)


def stage_event(
    to_stage: Stage, email: str | None, *, lead_id: str | None = None, profile: dict[str, Any] | None = None,
    from_stage: Stage | None = Stage.MQL, extras: dict[str, Any] | None = None, at=T0,
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """A stage event as scoring publishes it; ``extras`` are merged into ``data`` (fields v1 may gain)."""
    lead_id = lead_id or str(uuid.uuid4())
    data = LeadStageChanged(
        lead_id=lead_id, from_stage=from_stage, to_stage=to_stage, scores=Scores(score=120, fit=30, engagement=90),
        cause=StageCause(kind=StageCauseKind.FAST_TRACK, rule_id="demo-request", reason="Requested a demo with a fit of 30."),
        model=ModelVersion(id="default@1", hash="abc"), occurred_at=at,
        lead=LeadSnapshot(email=email, profile=LeadProfile(**(profile or {}))),
        top_reasons=[ScoreReason(rule_id="demo-request", points=50, reason="Requested a demo"),
                     ScoreReason(rule_id="pricing", points=10, reason="Viewed the pricing page")],
    )
    event = CloudEvent[LeadStageChanged](id=str(uuid.uuid4()), source="/tests", type=LEAD_STAGE_CHANGED_V1, time=at,
                                         subject=lead_id, data=data)
    value = encode_event(event)
    if extras:
        raw = orjson.loads(value)
        for key, extra in extras.items():
            if isinstance(extra, dict) and isinstance(raw["data"].get(key), dict):
                raw["data"][key].update(extra)
            else:
                raw["data"][key] = extra
        value = orjson.dumps(raw)
    return lead_id.encode(), value, list(CLOUDEVENT_HEADERS)


async def fresh_topic(test_env, name: str) -> str:
    """A stage topic of the test's own, so each test sees only its events."""
    topic = f"{test_env.prefix}.{name}.{uuid.uuid4().hex[:6]}.lead-stages"
    await create_topics(test_env.infra.kafka_bootstrap, {topic: 3})
    return topic


@contextlib.asynccontextmanager
async def handover(
    test_env, topic: str, *, group: str | None = None, destinations: list[dict[str, Any]] | None = None,
    config: str | None = None, config_dir: Path | None = None, admin_key: str | None = None,
    schedule: tuple[float, ...] = (0, 0.3, 0.3, 0.3), **settings: Any,
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """A running handover service (its loops in the lifespan) and an HTTP client for its API."""
    env = {k.removeprefix("LEADFLOW_").lower(): v for k, v in test_env.env.items()}
    env.update(handover_group_id=group or f"{topic}.handover", topic_lead_stages=topic)
    path = None
    if config is not None:
        assert config_dir is not None
        path = config_dir / f"handover-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(config)
    s = HandoverSettings(
        **env, handover_destinations=destinations or [], handover_destinations_file=path, handover_admin_key=admin_key,
        handover_retry_schedule=schedule, handover_timeout_seconds=5, handover_gauge_seconds=0.3, **settings,
    )
    app = create_app(s)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handover") as client:
            yield app, client


async def eventually(check: Callable[[], Awaitable[Any]] | Callable[[], Any], timeout: float = 25, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'a condition'}")
        await asyncio.sleep(0.1)


async def deliveries(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    return (await client.get("/v1/deliveries", params={"limit": 1000, **params})).json()


async def settled(client: httpx.AsyncClient, count: int, destination: str, timeout: float = 25) -> list[dict[str, Any]]:
    """Wait until ``count`` deliveries to ``destination`` are no longer pending."""
    async def done() -> list[dict[str, Any]] | None:
        found = await deliveries(client, destination=destination)
        return found if len(found) >= count and all(d["status"] != "pending" for d in found) else None

    return await eventually(done, timeout, f"{count} settled deliveries to {destination}")


# ------------------------------------------------------------------------------ HubSpot

HUBSPOT_TOKEN = "pat-eu1-11111111-2222-3333-4444-555555555555"


async def test_hubspot_contact_created_then_updated_and_a_task_for_the_owner(test_env, tmp_path, monkeypatch):
    topic = await fresh_topic(test_env, "hubspot")
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", HUBSPOT_TOKEN)
    with FakeHubSpot(HUBSPOT_TOKEN, owners={"101", "102"}, extra_properties={"leadflow_score", "leadflow_grade"}) as hs:
        config = f"""
destinations:
  - name: hubspot
    kind: hubspot
    base_url: {hs.base_url}
    token: ${{TEST_HUBSPOT_TOKEN}}
    stages: [mql, sql]
    properties: {{leadflow_score: scores.score, leadflow_grade: grade}}
teams:
  - name: inbound
    members: [{{id: anna, name: Anna Schmidt, owner_ids: {{hubspot: "101"}}}}]
routing:
  rules: [{{name: all, team: inbound}}]
"""
        lead_id = str(uuid.uuid4())
        hs.rate_limit_next("1", match="POST /crm/v3/objects/tasks")  # the first task call is throttled
        async with handover(test_env, topic, config=config, config_dir=tmp_path) as (_, client):
            await produce(test_env.infra.kafka_bootstrap, topic,
                          [stage_event(Stage.MQL, "ada@acme.example", lead_id=lead_id, profile=ADA, from_stage=Stage.LEAD)])
            await settled(client, 1, "hubspot")
            await produce(test_env.infra.kafka_bootstrap, topic,
                          [stage_event(Stage.SQL, "ada@acme.example", lead_id=lead_id, profile=ADA, extras={"grade": "A1"})])
            await eventually(lambda: hs.tasks, what="a HubSpot task")
            done = await settled(client, 2, "hubspot")

    assert [(c.method, c.path.rsplit("/", 1)[-1] if c.method == "PATCH" else c.path, c.status) for c in hs.calls] == [
        ("POST", "/crm/v3/objects/contacts/search", 200),  # MQL: nobody yet
        ("POST", "/crm/v3/objects/contacts", 201),  # -> created
        ("POST", "/crm/v3/objects/contacts/search", 200),  # SQL: found
        ("PATCH", "1001", 200),  # -> updated
        ("POST", "/crm/v3/objects/tasks", 429),  # throttled, Retry-After: 1
        ("POST", "/crm/v3/objects/tasks", 201),  # the retry creates the task; the contact is not touched again
    ]
    assert all(c.headers["authorization"] == f"Bearer {HUBSPOT_TOKEN}" for c in hs.calls)
    tasks = [c for c in hs.calls if c.path.endswith("/tasks")]
    assert tasks[1].at - tasks[0].at >= 0.9  # Retry-After honoured, not the 0.3 s schedule
    contact = hs.contact("ada@acme.example")
    assert contact["properties"] == {
        "email": "ada@acme.example", "firstname": "Ada", "lastname": "Lovelace", "company": "Acme Analytics GmbH",
        "jobtitle": "Head of IT", "country": "DE", "leadflow_score": "120", "leadflow_grade": "A1",
        "lifecyclestage": "salesqualifiedlead", "hs_lead_status": "NEW", "hubspot_owner_id": "101",
    }
    created = next(c for c in hs.calls if c.method == "POST" and c.path == "/crm/v3/objects/contacts").json["properties"]
    assert created["lifecyclestage"] == "marketingqualifiedlead" and "hubspot_owner_id" not in created  # no owner for an MQL
    [task] = hs.tasks_for(contact["id"])
    assert task["properties"]["hubspot_owner_id"] == "101"
    assert task["properties"]["hs_task_subject"] == "Call Ada Lovelace (Acme Analytics GmbH) - sales-qualified"
    assert task["properties"]["hs_timestamp"] == "2026-11-02T10:00:00.000Z"
    sql = next(d for d in done if d["attempts"] == 2)
    assert sql["status"] == "succeeded" and [a["status_code"] for a in sql["attempt_log"]] == [429, 201]
    assert "RATE_LIMIT" in sql["attempt_log"][0]["error"]


async def test_hubspot_conflict_from_a_lagging_search_updates_the_existing_contact(test_env):
    """HubSpot's search trails its writes: a second handover moments later finds nothing, and the create answers 409."""
    topic = await fresh_topic(test_env, "hubspot-lag")
    with FakeHubSpot(HUBSPOT_TOKEN, search_lag_seconds=60) as hs:
        dest = {"name": "hs-lag", "kind": "hubspot", "base_url": hs.base_url, "token": HUBSPOT_TOKEN,
                "stages": ["mql", "sql"], "task": {"enabled": False}}
        lead_id = str(uuid.uuid4())
        async with handover(test_env, topic, destinations=[dest]) as (_, client):
            await produce(test_env.infra.kafka_bootstrap, topic, [
                stage_event(Stage.MQL, "grace@navy.example", lead_id=lead_id, from_stage=Stage.LEAD),
                stage_event(Stage.SQL, "grace@navy.example", lead_id=lead_id),
            ])
            done = await settled(client, 2, "hs-lag")
    assert all(d["status"] == "succeeded" for d in done)
    assert len(hs.contacts) == 1
    assert hs.contact("grace@navy.example")["properties"]["lifecyclestage"] == "salesqualifiedlead"  # MQL first, then SQL
    assert [c.status for c in hs.snapshot("POST", "/crm/v3/objects/contacts") if c.path.endswith("contacts")] == [201, 409]
    assert [c.status for c in hs.snapshot("PATCH")] == [200]


async def test_hubspot_rejections_are_not_retried_and_say_why(test_env):
    topic = await fresh_topic(test_env, "hubspot-bad")
    with FakeHubSpot(HUBSPOT_TOKEN) as hs:
        wrong_token = {"name": "hs-wrong-token", "kind": "hubspot", "base_url": hs.base_url, "token": "pat-revoked"}
        bad_property = {"name": "hs-bad-property", "kind": "hubspot", "base_url": hs.base_url, "token": HUBSPOT_TOKEN,
                        "properties": {"no_such_property": "scores.score"}}
        async with handover(test_env, topic, destinations=[wrong_token, bad_property]) as (_, client):
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "x@example.org")])
            [auth] = await settled(client, 1, "hs-wrong-token")
            [invalid] = await settled(client, 1, "hs-bad-property")
    assert auth["status"] == "failed" and auth["attempts"] == 1 and "INVALID_AUTHENTICATION" in auth["last_error"]
    assert invalid["status"] == "failed" and invalid["attempts"] == 1
    assert "VALIDATION_ERROR" in invalid["last_error"] and "no_such_property" in invalid["attempt_log"][0]["error"]
    assert hs.contacts == {}


# ------------------------------------------------------------------------------ Salesforce

SF_TOKEN = "00D5g000004ABCD!AQ0AQsecretaccesstoken"


async def test_salesforce_lead_upserted_by_email_external_id(test_env, tmp_path):
    topic = await fresh_topic(test_env, "salesforce")
    with FakeSalesforce(SF_TOKEN, extra_fields={"Leadflow_Score__c"}) as sf:
        config = f"""
destinations:
  - name: salesforce
    kind: salesforce
    instance_url: {sf.base_url}
    access_token: "{SF_TOKEN}"
    fields: {{Leadflow_Score__c: scores.score}}
    default_owner_id: 00G5g000000QUEUE
teams:
  - name: inbound
    members: [{{id: anna, owner_ids: {{salesforce: 0055g00000AbCdE}}}}]
routing:
  rules: [{{name: dach, team: inbound, when: {{countries: [DE]}}}}]
"""
        ada, bob = str(uuid.uuid4()), str(uuid.uuid4())
        sf.limit_exceeded_next()  # Salesforce's "slow down": 403 REQUEST_LIMIT_EXCEEDED
        async with handover(test_env, topic, config=config, config_dir=tmp_path) as (_, client):
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "ada@acme.example", lead_id=ada, profile=ADA)])
            await settled(client, 1, "salesforce")
            await produce(test_env.infra.kafka_bootstrap, topic, [
                stage_event(Stage.SQL, "ada@acme.example", lead_id=ada, profile={**ADA, "job_title": "CTO"}),  # again: update
                stage_event(Stage.SQL, "bob+sales@example.org", lead_id=bob, profile={"first_name": "Bob", "country": "US"}),
            ])
            done = await settled(client, 3, "salesforce")

    assert all(d["status"] == "succeeded" for d in done)
    upserts = sf.snapshot("PATCH")
    assert [c.status for c in upserts][0] == 403 and sorted(c.status for c in upserts[1:]) == [200, 201, 201]
    assert upserts[0].path == f"/services/data/v61.0/sobjects/Lead/Email__c/ada%40acme.example"
    assert any(c.path.endswith("/Email__c/bob%2Bsales%40example.org") for c in upserts)
    [lead] = sf.leads_with(Email__c="ada@acme.example")
    assert lead["Title"] == "CTO" and lead["LastName"] == "Lovelace" and lead["Company"] == "Acme Analytics GmbH"
    assert lead["OwnerId"] == "0055g00000AbCdE" and lead["Status"] == "Open - Not Contacted" and lead["Leadflow_Score__c"] == 120
    assert "Requested a demo" in lead["Description"]
    [bob_lead] = sf.leads_with(Email__c="bob+sales@example.org")
    assert bob_lead["LastName"] == "[not provided]" and bob_lead["Company"] == "[not provided]"
    assert bob_lead["OwnerId"] == "00G5g000000QUEUE"  # routed nowhere (not DE): the destination's default owner
    first = next(d for d in done if d["attempts"] == 2)
    assert [a["status_code"] for a in first["attempt_log"]] == [403, 201]


async def test_salesforce_query_then_create_or_update_and_its_errors(test_env):
    topic = await fresh_topic(test_env, "salesforce-query")
    with FakeSalesforce(SF_TOKEN) as sf:
        query = {"name": "sf-query", "kind": "salesforce", "instance_url": sf.base_url, "access_token": SF_TOKEN,
                 "match": "query"}
        expired = {"name": "sf-expired", "kind": "salesforce", "instance_url": sf.base_url, "access_token": "expired"}
        lead_id = str(uuid.uuid4())
        sf.rate_limit_next("1", match="GET")
        async with handover(test_env, topic, destinations=[query, expired]) as (_, client):
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "o'neil@example.org", lead_id=lead_id)])
            await settled(client, 1, "sf-query")
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "o'neil@example.org", lead_id=lead_id)])
            done = await settled(client, 2, "sf-query")
            rejected = await settled(client, 2, "sf-expired")
    assert all(d["status"] == "succeeded" for d in done)
    assert [(c.method, c.status) for c in sf.calls if c.headers["authorization"] == f"Bearer {SF_TOKEN}"] == [
        ("GET", 429), ("GET", 200), ("POST", 201), ("GET", 200), ("PATCH", 204),
    ]
    assert "Email = 'o\\'neil@example.org'" in sf.snapshot("GET")[0].query["q"][0]
    assert len(sf.leads) == 1
    for failed in rejected:  # an expired token is not retried: fix it, then replay
        assert failed["status"] == "failed" and failed["attempts"] == 1 and "INVALID_SESSION_ID" in failed["last_error"]


# ------------------------------------------------------------------------------ Slack


async def test_slack_gets_a_valid_block_kit_message_and_the_url_stays_secret(test_env, tmp_path):
    topic = await fresh_topic(test_env, "slack")
    with FakeSlack() as slack:
        config = f"""
destinations:
  - name: sales-slack
    kind: slack
    webhook_url: {slack.webhook_url}
teams:
  - name: inbound
    members: [{{id: anna, name: Anna Schmidt, owner_ids: {{slack: U024BE7LH}}}}]
routing:
  rules: [{{name: all, team: inbound}}]
"""
        slack.rate_limit_next("1")
        touchpoints = [{"type": "demo_requested", "occurred_at": "2026-11-02T08:59:00+00:00"},
                       {"type": "page_viewed", "occurred_at": "2026-11-01T10:00:00+00:00", "page_url": "/pricing"}]
        async with handover(test_env, topic, config=config, config_dir=tmp_path, admin_key="k" * 24) as (_, client):
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(
                Stage.SQL, "ada@acme.example", profile=ADA, extras={"grade": "A2", "recent_touchpoints": touchpoints},
            )])
            [delivery] = await settled(client, 1, "sales-slack")
            listed = (await client.get("/v1/destinations")).text
            one = (await client.get("/v1/destinations/sales-slack")).json()

    assert delivery["status"] == "succeeded" and [a["status_code"] for a in delivery["attempt_log"]] == [429, 200]
    [message] = slack.messages
    assert block_kit_problems(message) == []
    blocks = message["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Sales-qualified lead: Ada Lovelace", "emoji": True}}
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[0] == "*Who*\nAda Lovelace\nHead of IT\n<mailto:ada@acme.example|ada@acme.example>"
    assert fields[1] == "*Company*\nAcme Analytics GmbH\n250 employees · DE"
    assert fields[2] == "*Score*\n120 (fit 30, engagement 90) · grade A2"
    assert fields[3] == "*Assigned to*\n<@U024BE7LH> (inbound)"
    text = orjson.dumps(blocks).decode()
    assert "*Why now*\\nRequested a demo with a fit of 30." in text and "Requested a demo (+50)" in text
    assert "demo_requested" in text  # recent activity, when the event carries it
    assert message["text"] == "Sales-qualified lead: Ada Lovelace (Acme Analytics GmbH), assigned to Anna Schmidt"
    assert slack.PATH not in listed and "xoxsecret" not in listed  # the webhook URL is the secret
    assert one["kind"] == "slack" and one["secrets"] == 1 and one["source"] == "file"
