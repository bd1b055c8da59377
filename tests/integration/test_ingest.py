"""Ingest against the real broker: 202 only after the acknowledgement, problem details for bad input."""

from __future__ import annotations

import contextlib

import httpx
import orjson
import pytest

from leadflow_events import decode_event
from leadflow_ingest.app import create_app
from leadflow_ingest.settings import IngestSettings
from tests.support.kafka import read_all

pytestmark = pytest.mark.integration
API_KEY = "test-key-0123456789abcdef"


@contextlib.asynccontextmanager
async def ingest_client(**overrides):
    settings = IngestSettings(**overrides)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        publisher = app.state.publisher
        for _ in range(100):  # the producer connects in the background
            if publisher.started or overrides.get("kafka_bootstrap", "").endswith(":1"):
                break
            import asyncio

            await asyncio.sleep(0.1)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            yield client


@pytest.fixture
def settings_kw(test_env):
    return {"kafka_bootstrap": test_env.infra.kafka_bootstrap, "topic_touchpoints": test_env.touchpoints_topic}


async def test_accepted_touchpoint_is_on_the_topic_keyed_by_the_normalised_email(settings_kw, test_env):
    async with ingest_client(**settings_kw) as client:
        r = await client.post("/v1/touchpoints", json={
            "type": "form_submitted", "email": "  Grace.Hopper@Navy.example ",
            "profile": {"company": "US Navy", "country": "us"}, "properties": {"form_id": "contact"},
        })
    assert r.status_code == 202, r.text
    event_id = r.json()["event_id"]
    records = await read_all(test_env.infra.kafka_bootstrap, test_env.touchpoints_topic, expect=1)
    mine = [rec for rec in records if decode_event(rec.value, rec.headers).id == event_id]
    assert len(mine) == 1
    rec = mine[0]
    assert rec.key == b"grace.hopper@navy.example"
    assert ("content-type", b"application/cloudevents+json") in rec.headers
    event = decode_event(rec.value, rec.headers)
    assert event.data.profile.country == "US"
    assert event.data.touchpoint_type == "form_submitted"


async def test_batch_is_accepted_whole(settings_kw, test_env):
    """Answered by the fast path in the plain case: the route's answer, metrics label, trace and idempotency."""
    from prometheus_client import REGISTRY

    def answered() -> float:
        return REGISTRY.get_sample_value(
            "leadflow_http_requests_total", {"method": "POST", "route": "/v1/touchpoints/batch", "status": "202"}
        ) or 0.0

    before = answered()
    items = [{"type": "page_viewed", "anonymous_id": f"cookie-{i}", "properties": {"page_url": "/pricing"}} for i in range(3)]
    async with ingest_client(**settings_kw) as client:
        r = await client.post("/v1/touchpoints/batch", json={"touchpoints": items})
        too_many = await client.post("/v1/touchpoints/batch", json={"touchpoints": [items[0]] * 501})
        keyed = [await client.post("/v1/touchpoints/batch", json={"touchpoints": items}, headers={"Idempotency-Key": "b-1"})
                 for _ in range(2)]
    assert r.status_code == 202 and r.headers["content-type"] == "application/json"
    assert r.json()["accepted"] == 3 and len(set(r.json()["event_ids"])) == 3
    assert keyed[0].json()["event_ids"] == keyed[1].json()["event_ids"]  # a resent batch keeps its event ids
    assert answered() - before == 3
    assert too_many.status_code == 422
    assert "at most 500" in too_many.json()["detail"]
    records = await read_all(test_env.infra.kafka_bootstrap, test_env.touchpoints_topic, expect=3)
    mine = [rec for rec in records if decode_event(rec.value, rec.headers).id in set(r.json()["event_ids"])]
    assert len(mine) == 3
    assert len({dict(rec.headers)["traceparent"] for rec in mine}) == 1  # one request, one trace


async def test_idempotency_key_gives_the_same_event_id(settings_kw):
    body = {"type": "demo_requested", "email": "retry@example.org"}
    async with ingest_client(**settings_kw) as client:
        first = await client.post("/v1/touchpoints", json=body, headers={"Idempotency-Key": "k-123"})
        second = await client.post("/v1/touchpoints", json=body, headers={"Idempotency-Key": "k-123"})
        other = await client.post("/v1/touchpoints", json=body)
    assert first.json()["event_id"] == second.json()["event_id"] != other.json()["event_id"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"type": "fax_received", "email": "a@b.example"}, "type", "form_submitted"),
        ({"type": "form_submitted"}, "<root>", "email or an anonymous_id"),
        ({"type": "form_submitted", "email": "not-an-email"}, "email", "valid e-mail"),
        ({"type": "form_submitted", "email": "a@b.example", "occurred_at": "2026-11-27T10:00:00"}, "occurred_at", "timezone"),
        ({"type": "form_submitted", "email": "a@b.example", "profile": {"company_size": -3}}, "profile.company_size", "greater"),
        ({"type": "form_submitted", "email": "a@b.example", "surprise": 1}, "surprise", "not permitted"),
    ],
)
async def test_bad_input_is_a_422_problem_naming_the_field(settings_kw, body, field, words):
    async with ingest_client(**settings_kw) as client:
        r = await client.post("/v1/touchpoints", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 422
    assert any(e["field"] == field for e in problem["errors"]), problem
    assert words.lower() in orjson.dumps(problem).decode().lower()


async def test_oversized_body_is_413(settings_kw):
    body = {"type": "form_submitted", "email": "a@b.example", "properties": {f"k{i}": "x" * 2000 for i in range(40)}}
    async with ingest_client(**settings_kw) as client:
        r = await client.post("/v1/touchpoints", json=body)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert "65536 bytes" in r.json()["detail"]


async def test_unreachable_kafka_is_503_with_retry_after():
    async with ingest_client(kafka_bootstrap="127.0.0.1:1", ingest_retry_after_seconds=7) as client:
        r = await client.post("/v1/touchpoints", json={"type": "form_submitted", "email": "a@b.example"})
        ready = await client.get("/health/ready")
        live = await client.get("/health/live")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "7"
    assert "not accepted" in r.json()["detail"]
    assert ready.status_code == 503 and ready.json()["checks"]["kafka"]["status"] == "fail"
    assert live.status_code == 200  # a dependency being down is not a reason to restart


async def test_api_keys_are_enforced_when_configured(settings_kw):
    body = {"type": "form_submitted", "email": "a@b.example"}
    async with ingest_client(**settings_kw, ingest_api_keys=[API_KEY]) as client:
        missing = await client.post("/v1/touchpoints", json=body)
        wrong = await client.post("/v1/touchpoints", json=body, headers={"Authorization": "Bearer wrong-key-000000000"})
        bearer = await client.post("/v1/touchpoints", json=body, headers={"Authorization": f"Bearer {API_KEY}"})
        header = await client.post("/v1/touchpoints", json=body, headers={"X-API-Key": API_KEY})
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
    assert wrong.status_code == 401
    assert bearer.status_code == 202 and header.status_code == 202


def test_placeholder_api_keys_fail_start_up():
    with pytest.raises(ValueError, match="placeholder"):
        IngestSettings(ingest_api_keys=["changeme"])


async def test_the_plain_touchpoint_post_and_the_route_answer_alike(settings_kw, test_env):
    """``POST /v1/touchpoints`` is answered without FastAPI's machinery in the plain case; the answer,
    the metrics and the errors must be those of the documented route."""
    from prometheus_client import REGISTRY

    def answered(status: str) -> float:
        return REGISTRY.get_sample_value(
            "leadflow_http_requests_total", {"method": "POST", "route": "/v1/touchpoints", "status": status}
        ) or 0.0

    before = answered("202")
    async with ingest_client(**settings_kw, ingest_api_keys=[API_KEY]) as client:
        headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "same-answer-1"}
        body = {"type": "page_viewed", "email": "Fast.Path@Example.com", "properties": {"url": "https://acme.example/pricing"}}
        fast = await client.post("/v1/touchpoints", json=body, headers=headers)
        again = await client.post("/v1/touchpoints", json=body, headers=headers)
        unauthenticated = await client.post("/v1/touchpoints", json=body)
        wrong_key = await client.post("/v1/touchpoints", json=body, headers={"Authorization": "Bearer not-the-key-0123456789"})
        invalid = await client.post("/v1/touchpoints", json={**body, "email": "not an address"}, headers=headers)
        not_json = await client.post("/v1/touchpoints", content=b"{", headers={**headers, "Content-Type": "application/json"})
    assert fast.status_code == 202 and fast.headers["content-type"] == "application/json"
    assert set(fast.json()) == {"event_id", "lead_key"} and fast.json()["lead_key"] == "fast.path@example.com"
    assert again.json() == fast.json()  # same Idempotency-Key, same event id
    assert answered("202") - before == 2  # labelled with the route template, like every other route
    assert unauthenticated.status_code == 401 and wrong_key.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "email"
    assert not_json.status_code == 422 and not_json.headers["content-type"] == "application/problem+json"
    records = await read_all(test_env.infra.kafka_bootstrap, test_env.touchpoints_topic, expect=1)
    mine = [rec for rec in records if decode_event(rec.value, rec.headers).id == fast.json()["event_id"]]
    assert len(mine) == 2  # the resend is published again under the same event id; scoring records it once
    for rec in mine:  # like the route: every touchpoint carries a trace id, minted when the caller sent none
        assert any(k == "traceparent" for k, _ in rec.headers), rec.headers


async def test_the_plain_post_keeps_the_callers_trace_and_limits_streamed_bodies(settings_kw, test_env):
    """The fast path sits in front of the middlewares, so it passes the caller's ``traceparent`` on itself and
    hands a body streamed past the limit (no Content-Length) to the body-limit middleware: 413."""
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    body = {"type": "page_viewed", "email": "traced@example.com", "properties": {"url": "https://acme.example/"}}

    async def streamed():
        for _ in range(40):
            yield b"x" * 2000

    async with ingest_client(**settings_kw, ingest_api_keys=[API_KEY]) as client:
        auth = {"Authorization": f"Bearer {API_KEY}"}
        traced = await client.post("/v1/touchpoints", json=body, headers={**auth, "traceparent": traceparent})
        huge = await client.post("/v1/touchpoints", content=streamed(), headers={**auth, "Content-Type": "application/json"})
    assert traced.status_code == 202
    assert huge.status_code == 413 and huge.headers["content-type"] == "application/problem+json"
    records = await read_all(test_env.infra.kafka_bootstrap, test_env.touchpoints_topic, expect=1)
    mine = [rec for rec in records if decode_event(rec.value, rec.headers).id == traced.json()["event_id"]]
    assert len(mine) == 1
    # the caller's trace (the same span id while tracing is off; a child span's while a test has it on)
    assert dict(mine[0].headers)["traceparent"].decode().split("-")[1] == traceparent.split("-")[1]


async def test_a_batch_puts_each_lead_on_the_partition_a_single_post_does(settings_kw, test_env):
    """Big batches fill Kafka record batches themselves; a lead's touchpoints must still share one partition
    (scoring relies on per-lead order), whichever way they came."""
    emails = [f"part{i}@example.org" for i in range(40)]
    async with ingest_client(**settings_kw) as client:
        singles = [await client.post("/v1/touchpoints", json={"type": "page_viewed", "email": e}) for e in emails[:5]]
        batch = await client.post("/v1/touchpoints/batch",
                                  json={"touchpoints": [{"type": "email_clicked", "email": e} for e in emails]})
    assert all(r.status_code == 202 for r in singles) and batch.status_code == 202
    records = await read_all(test_env.infra.kafka_bootstrap, test_env.touchpoints_topic, expect=45)
    partitions: dict[str, set[int]] = {}
    for rec in records:
        if rec.key.decode() in emails:
            partitions.setdefault(rec.key.decode(), set()).add(rec.partition)
    assert set(partitions) == set(emails)
    assert all(len(p) == 1 for p in partitions.values()), partitions
    assert len({p for ps in partitions.values() for p in ps}) > 1  # the test topic has several partitions
