"""Destinations from the environment, a file and the API; replays; 410 disabling; health; paging; gauges.

Real broker, real database, a real local webhook receiver.
"""

from __future__ import annotations

import asyncio
import base64
import uuid

import pytest
from standardwebhooks import Webhook

from leadflow_events import Stage
from tests.integration.test_handover_crm import deliveries, eventually, fresh_topic, handover, settled, stage_event
from tests.support.kafka import produce
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"handover-admin-secret-000000001").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"handover-admin-secret-000000002").decode()
ADMIN = "admin-key-for-the-tests-0123456789"
AUTH = {"authorization": f"Bearer {ADMIN}"}


async def test_the_write_api_is_off_without_an_admin_key(test_env):
    topic = await fresh_topic(test_env, "no-admin")
    async with handover(test_env, topic) as (_, client):
        r = await client.post("/v1/destinations", json={"name": "x", "url": "http://x", "secrets": [SECRET]})
        replay = await client.post("/v1/deliveries/msg_nothing/replay")
        listed = await client.get("/v1/destinations")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert "LEADFLOW_HANDOVER_ADMIN_KEY" in r.json()["detail"] and r.json()["type"].endswith("/admin-api-disabled")
    assert replay.status_code == 503
    assert listed.status_code == 200


async def test_destinations_from_env_file_and_api_and_their_secrets_never_come_back(test_env, tmp_path):
    topic = await fresh_topic(test_env, "crud")
    env_dest = [{"name": "env-hook", "url": "http://127.0.0.1:9/env", "secrets": [SECRET]}]
    file_v1 = f"""
destinations:
  - {{name: file-hook, url: "http://127.0.0.1:9/file", secrets: ["{SECRET}"], stages: [mql, sql]}}
  - {{name: file-slack, kind: slack, webhook_url: "https://hooks.slack.com/services/T1/B1/slacksecret"}}
"""
    async with handover(test_env, topic, destinations=env_dest, config=file_v1, config_dir=tmp_path, admin_key=ADMIN) as (_, c):
        assert (await c.post("/v1/destinations", json={"name": "x", "url": "http://x", "secrets": [SECRET]})).status_code == 401
        bad_key = await c.post("/v1/destinations", headers={"authorization": "Bearer wrong-key-wrong-key"},
                               json={"name": "x", "url": "http://x", "secrets": [SECRET]})
        assert bad_key.status_code == 401

        hs = {"name": "api-hubspot", "kind": "hubspot", "token": "pat-api-secret-token", "base_url": "http://127.0.0.1:9"}
        created = await c.post("/v1/destinations", json=hs, headers=AUTH)
        assert created.status_code == 201 and created.headers["location"] == "/v1/destinations/api-hubspot"
        assert created.json()["source"] == "api" and created.json()["secrets"] == 1
        assert (await c.post("/v1/destinations", json=hs, headers=AUTH)).status_code == 409

        invalid = await c.post("/v1/destinations", headers=AUTH,
                               json={"name": "bad", "url": "http://x", "secrets": ["whsec_not-base64-top-secret"]})
        assert invalid.status_code == 422 and "not-base64-top-secret" not in invalid.text
        assert any(e["field"].endswith("secrets") for e in invalid.json()["errors"])
        unknown = await c.post("/v1/destinations", headers=AUTH, json={"name": "bad", "kind": "pager", "url": "http://x"})
        assert unknown.status_code == 422

        rotated = await c.put("/v1/destinations/api-webhook", headers=AUTH,
                              json={"name": "api-webhook", "url": "http://127.0.0.1:9/api", "secrets": [NEW_SECRET, SECRET]})
        assert rotated.status_code == 201 and rotated.json()["secrets"] == 2
        replaced = await c.put("/v1/destinations/api-webhook", headers=AUTH,
                               json={"name": "api-webhook", "url": "http://127.0.0.1:9/api2", "secrets": [NEW_SECRET]})
        assert replaced.status_code == 200 and replaced.json()["target"] == "http://127.0.0.1:9/api2"
        mismatch = await c.put("/v1/destinations/api-webhook", headers=AUTH,
                               json={"name": "other", "url": "http://x", "secrets": [SECRET]})
        assert mismatch.status_code == 422

        managed = await c.put("/v1/destinations/file-hook", headers=AUTH,
                              json={"name": "file-hook", "url": "http://x", "secrets": [SECRET]})
        assert managed.status_code == 409 and "LEADFLOW_HANDOVER_DESTINATIONS_FILE" in managed.json()["detail"]
        assert (await c.delete("/v1/destinations/env-hook", headers=AUTH)).status_code == 409

        listed = await c.get("/v1/destinations")
        by_name = {d["name"]: d for d in listed.json()}
        assert by_name["env-hook"]["source"] == "env" and by_name["file-hook"]["source"] == "file"
        assert by_name["file-hook"]["stages"] == ["mql", "sql"]
        assert by_name["api-hubspot"]["settings"]["lifecycle_stages"] == {"mql": "marketingqualifiedlead", "sql": "salesqualifiedlead"}
        for secret in (SECRET, NEW_SECRET, "pat-api-secret-token", "slacksecret", SECRET.removeprefix("whsec_")):
            assert secret not in listed.text
        assert (await c.delete("/v1/destinations/api-hubspot", headers=AUTH)).status_code == 204
        assert (await c.get("/v1/destinations/api-hubspot")).status_code == 404

    # the file changes: its removed entry is dropped, API destinations stay
    file_v2 = f'destinations: [{{name: file-hook, url: "http://127.0.0.1:9/file", secrets: ["{SECRET}"]}}]\n'
    async with handover(test_env, topic, config=file_v2, config_dir=tmp_path, admin_key=ADMIN) as (_, c):
        names = {d["name"]: d["source"] for d in (await c.get("/v1/destinations")).json()}
    assert names == {"file-hook": "file", "api-webhook": "api"}
    async with handover(test_env, topic, admin_key=ADMIN) as (_, c):  # leave no receiver-less destination to later tests
        assert (await c.delete("/v1/destinations/api-webhook", headers=AUTH)).status_code == 204


async def test_replay_sends_again_with_the_same_webhook_id(test_env):
    topic = await fresh_topic(test_env, "replay")
    with WebhookReceiver() as receiver:
        receiver.answer_next(400)  # rejected: not retried
        dest = [{"name": "replay-hook", "url": receiver.url, "secrets": [SECRET]}]
        async with handover(test_env, topic, destinations=dest, admin_key=ADMIN) as (_, c):
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "again@example.org")])
            [failed] = await settled(c, 1, "replay-hook")
            assert failed["status"] == "failed"

            assert (await c.post(f"/v1/deliveries/{failed['id']}/replay")).status_code == 401
            r = await c.post(f"/v1/deliveries/{failed['id']}/replay", headers=AUTH)
            assert r.status_code == 202 and r.json()["replays"] == 1
            [replayed] = await settled(c, 1, "replay-hook")
            await asyncio.sleep(0.3)
            r2 = await c.post(f"/v1/deliveries/{failed['id']}/replay", headers=AUTH)  # a delivered one can be re-sent too
            assert r2.status_code == 202
            await eventually(lambda: len(receiver.snapshot()) >= 3, what="the second replay")
            [again] = await settled(c, 1, "replay-hook")
            missing = await c.post("/v1/deliveries/msg_unknown/replay", headers=AUTH)
            detail = (await c.get(f"/v1/deliveries/{failed['id']}")).json()

    got = receiver.snapshot()
    assert [r.answered for r in got] == [400, 200, 200]
    assert {r.headers["webhook-id"] for r in got} == {failed["id"]}  # the same id every time: receivers dedupe on it
    for r in got:
        Webhook(SECRET).verify(r.body, r.headers)  # signed afresh (new timestamp), same body
    assert len({r.body for r in got}) == 1
    assert replayed["status"] == "succeeded" and replayed["last_error"] is None
    assert again["replays"] == 2 and again["attempts"] == 3
    assert [a["status_code"] for a in again["attempt_log"]] == [400, 200, 200]
    assert missing.status_code == 404
    assert detail["payload"]["handover_id"] == failed["id"] and detail["payload"]["lead"]["email"] == "again@example.org"


async def test_gone_disables_the_destination_until_enabled_and_replayed(test_env):
    topic = await fresh_topic(test_env, "gone")
    with WebhookReceiver(default_status=410) as receiver:
        dest = [{"name": "gone-hook", "url": receiver.url, "secrets": [SECRET]}]
        async with handover(test_env, topic, destinations=dest, admin_key=ADMIN) as (_, c):
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "first@example.org")])
            [gone] = await settled(c, 1, "gone-hook")
            state = (await c.get("/v1/destinations/gone-hook")).json()
            # later handovers are recorded but not sent while the destination is disabled
            await produce(test_env.infra.kafka_bootstrap, topic,
                          [stage_event(Stage.SQL, "second@example.org"), stage_event(Stage.SQL, "third@example.org")])
            parked = await settled(c, 3, "gone-hook")
            await asyncio.sleep(0.5)
            sent_while_disabled = len(receiver.snapshot())
            health = (await c.get("/v1/destinations/gone-hook/health")).json()
            refused = await c.post(f"/v1/deliveries/{gone['id']}/replay", headers=AUTH)
            metrics_disabled = await eventually(
                lambda: _metric(c, 'leadflow_handover_destination_disabled{destination="gone-hook"} 1.0'), what="gauge")

            receiver.default_status = 200  # the receiver is back
            enabled = await c.post("/v1/destinations/gone-hook/enable", headers=AUTH)
            bulk = await c.post("/v1/destinations/gone-hook/replay-failed", headers=AUTH)
            await eventually(lambda: len(receiver.snapshot()) >= 4, what="the replayed deliveries")
            done = await settled(c, 3, "gone-hook")
            healthy = (await c.get("/v1/destinations/gone-hook/health")).json()
            gauges = await eventually(
                lambda: _metric(c, 'leadflow_handover_destination_disabled{destination="gone-hook"} 0.0'), what="gauge")

    assert gone["status"] == "disabled"
    assert state["enabled"] is False and "410 Gone" in state["disabled_reason"] and state["disabled_at"]
    assert sorted(d["status"] for d in parked) == ["disabled"] * 3
    assert sent_while_disabled == 1
    for d in parked:
        if d["id"] != gone["id"]:
            assert "the destination is disabled" in (d["last_error"] or ""), d
    assert health["enabled"] is False and health["failed"] == 3 and health["pending"] == 0
    assert health["attempts"] == 1 and health["success_rate"] == 0.0 and health["last_failure"]["status_code"] == 410
    assert refused.status_code == 409 and "/enable" in refused.json()["detail"]
    assert metrics_disabled

    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    assert bulk.status_code == 202 and sorted(bulk.json()["delivery_ids"]) == sorted(d["id"] for d in parked)
    got = receiver.snapshot()
    assert [r.answered for r in got] == [410, 200, 200, 200]
    assert {r.headers["webhook-id"] for r in got[1:]} == {d["id"] for d in parked}  # each keeps its own id
    assert all(d["status"] == "succeeded" for d in done)
    assert healthy["enabled"] is True and healthy["deliveries"]["succeeded"] == 3 and healthy["failed"] == 0
    assert healthy["attempts"] == 4 and healthy["success_rate"] == 0.75
    assert healthy["last_success_at"] > healthy["last_failure_at"]
    assert 0 < healthy["latency_p50_seconds"] <= healthy["latency_p95_seconds"] < 5
    assert 'leadflow_handover_deliveries_failed{destination="gone-hook"} 0.0' in gauges
    assert 'leadflow_handover_deliveries_pending{destination="gone-hook"} 0.0' in gauges


async def test_the_delivery_log_pages_without_gaps_or_repeats(test_env):
    topic = await fresh_topic(test_env, "pages")
    with WebhookReceiver() as receiver:
        dest = [{"name": "paged-hook", "url": receiver.url, "secrets": [SECRET]}]
        async with handover(test_env, topic, destinations=dest) as (_, c):
            await produce(test_env.infra.kafka_bootstrap, topic,
                          [stage_event(Stage.SQL, f"p{i}@example.org") for i in range(7)])
            everything = await settled(c, 7, "paged-hook")
            seen, cursor, pages = [], None, 0
            while True:
                params = {"destination": "paged-hook", "limit": 3} | ({"cursor": cursor} if cursor else {})
                r = await c.get("/v1/deliveries", params=params)
                pages += 1
                seen += [d["id"] for d in r.json()]
                cursor = r.headers.get("leadflow-next-cursor")
                if not cursor:
                    assert "link" not in r.headers
                    break
                assert r.headers["link"].endswith('>; rel="next"') and f"cursor={cursor}" in r.headers["link"]
            bad = await c.get("/v1/deliveries", params={"cursor": "garbage"})
            unknown_status = await c.get("/v1/deliveries", params={"status": "lost"})
    assert pages == 3 and len(seen) == 7 == len(set(seen))
    assert seen == [d["id"] for d in everything]  # newest first, the same order as one big page
    assert bad.status_code == 400 and unknown_status.status_code == 422


async def _metric(client, line: str) -> str | None:
    text = (await client.get("/metrics")).text
    return text if line in text else None


async def test_a_destination_created_through_the_api_receives_the_next_handover(test_env):
    topic = await fresh_topic(test_env, "api-live")
    with WebhookReceiver() as receiver:
        async with handover(test_env, topic, admin_key=ADMIN) as (_, c):
            r = await c.post("/v1/destinations", headers=AUTH,
                             json={"name": "late-hook", "url": receiver.url, "secrets": [SECRET], "stages": ["sql"]})
            assert r.status_code == 201
            lead = str(uuid.uuid4())
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "late@example.org", lead_id=lead)])
            [d] = await settled(c, 1, "late-hook")
            by_lead = await deliveries(c, lead_id=lead)
    assert d["status"] == "succeeded" and by_lead[0]["id"] == d["id"]
    Webhook(SECRET).verify(receiver.snapshot()[0].body, receiver.snapshot()[0].headers)


async def test_an_erased_lead_is_never_replayed(test_env):
    from datetime import UTC, datetime

    from leadflow_events import LEAD_ERASED_V1, CloudEvent, LeadErased, encode_event
    from leadflow_runtime.kafka import CLOUDEVENT_HEADERS

    topic = await fresh_topic(test_env, "erased")
    with WebhookReceiver(default_status=422) as receiver:
        dest = [{"name": "erased-hook", "url": receiver.url, "secrets": [SECRET]}]
        lead = str(uuid.uuid4())
        async with handover(test_env, topic, destinations=dest, admin_key=ADMIN) as (_, c):
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "forget@example.org", lead_id=lead)])
            [failed] = await settled(c, 1, "erased-hook")
            erased = CloudEvent[LeadErased](
                id=str(uuid.uuid4()), source="/tests", type=LEAD_ERASED_V1, time=datetime.now(UTC), subject=lead,
                data=LeadErased(lead_id=lead, key_hash="0" * 64, reason="request", erased_at=datetime.now(UTC)),
            )
            await produce(test_env.infra.kafka_bootstrap, topic, [(lead.encode(), encode_event(erased), list(CLOUDEVENT_HEADERS))])
            await eventually(lambda: _payload_wiped(c, failed["id"]), what="the erasure")
            one = await c.post(f"/v1/deliveries/{failed['id']}/replay", headers=AUTH)
            bulk = await c.post("/v1/destinations/erased-hook/replay-failed", headers=AUTH)
    assert failed["status"] == "failed"
    assert one.status_code == 409 and "privacy" in one.json()["detail"]
    assert bulk.status_code == 202 and bulk.json()["replayed"] == 0
    assert len(receiver.snapshot()) == 1


async def _payload_wiped(client, delivery_id: str) -> bool:
    return (await client.get(f"/v1/deliveries/{delivery_id}")).json()["payload"] == {}
