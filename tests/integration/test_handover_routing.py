"""Routing and assignment on the real broker and database: rules, weighted round-robin, capacity, out of office,
state that survives restarts and is shared by several instances, and the assignee in the notification."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from leadflow_events import Stage
from tests.integration.test_handover_crm import eventually, fresh_topic, handover, settled, stage_event
from tests.support.kafka import produce
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"handover-routing-secret-0000001").decode()
TODAY = datetime.now(UTC).date()


def config(url: str, teams: str, rules: str) -> str:
    return f"""
destinations:
  - {{name: sales, url: "{url}", secrets: ["{SECRET}"]}}
teams:
{teams}
routing:
  regions: {{DACH: [DE, AT, CH]}}
  rules:
{rules}
"""


async def assignments(client, **params) -> list[dict]:
    return (await client.get("/v1/assignments", params={"limit": 1000, **params})).json()


async def test_rules_pick_the_team_and_round_robin_honours_weights_capacity_and_out_of_office(test_env, tmp_path):
    topic = await fresh_topic(test_env, "routing")
    teams = f"""
  - name: inbound
    capacity: {{leads: 3, days: 30}}
    members:
      - {{id: anna, name: Anna Schmidt, email: anna@example.com, weight: 2}}
      - {{id: ben, name: Ben Meyer, weight: 1}}
      - id: cara
        weight: 3
        out_of_office: [{{from: {TODAY - timedelta(days=1)}, to: {TODAY + timedelta(days=2)}}}]
  - name: enterprise
    members: [{{id: eva, name: Eva Braun}}]
  - name: platform
    members: [{{id: pia}}]
"""
    rules = """
    - {name: dach-enterprise, team: enterprise, when: {regions: [DACH], company_size: {min: 1000}}}
    - {name: platform, team: platform, when: {product_interest: [platform]}}
    - {name: everyone-else, team: inbound}
"""
    with WebhookReceiver() as receiver:
        async with handover(test_env, topic, config=config(receiver.url, teams, rules), config_dir=tmp_path) as (_, c):
            # one lead at a time, so the order of the picks is the order of the leads
            for i in range(8):
                await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, f"in{i}@example.org")])
                await settled(c, i + 1, "sales")
            await produce(test_env.infra.kafka_bootstrap, topic, [
                stage_event(Stage.SQL, "big@konzern.example", profile={"country": "AT", "company_size": 12000}),
                stage_event(Stage.SQL, "dev@startup.example", profile={"country": "US", "company_size": 20},
                            extras={"lead": {"properties": {"product_interest": "Platform, API"}}}),
            ])
            await settled(c, 10, "sales")
            made = await assignments(c)
            teams_view = {t["name"]: t for t in (await c.get("/v1/teams")).json()}
    notified = {r.json["lead"]["email"]: r.json for r in receiver.snapshot()}
    assert len(notified) == 10

    inbound = [notified[f"in{i}@example.org"]["assignee"] for i in range(8)]
    assert [a["member_id"] for a in inbound] == ["anna", "ben", "anna", "anna", "ben", "ben", None, None]
    assert inbound[0] == {
        "team": "inbound", "member_id": "anna", "name": "Anna Schmidt", "email": "anna@example.com", "owner_ids": {},
        "rule": "everyone-else", "reason": inbound[0]["reason"],
    }
    assert "cara (out of office until" in inbound[0]["reason"]
    assert "anna (at capacity: 3 of 3 leads in 30 days)" in inbound[4]["reason"]
    assert "nobody in team inbound is available" in inbound[6]["reason"]
    assert notified["big@konzern.example"]["assignee"]["member_id"] == "eva"
    assert notified["big@konzern.example"]["assignee"]["rule"] == "dach-enterprise"
    assert notified["dev@startup.example"]["assignee"]["member_id"] == "pia"
    assert notified["dev@startup.example"]["lead"]["properties"] == {"product_interest": "Platform, API"}

    recorded = {a["lead_id"]: a for a in made}
    for n in notified.values():  # what was recorded is what was sent
        assert recorded[n["lead"]["id"]]["member"] == n["assignee"]["member_id"]
    assert Counter(a["member"] for a in made) == {"anna": 3, "ben": 3, None: 2, "eva": 1, "pia": 1}
    members = {m["id"]: m for m in teams_view["inbound"]["members"]}
    assert members["anna"]["load"] == 3 and members["anna"]["available_now"] is False
    assert members["cara"]["unavailable_because"].startswith("out of office")
    assert teams_view["enterprise"]["routed_by"] == ["dach-enterprise"]


async def test_rotation_survives_restarts_is_shared_by_instances_and_owners_are_kept(test_env, tmp_path):
    topic = await fresh_topic(test_env, "rotation")
    group = f"{topic}.shared"
    teams = """
  - name: duo
    members: [{id: anna}, {id: ben}]
"""
    text = config("http://127.0.0.1:9/unused", teams, "    - {name: all, team: duo}\n")
    first = str(uuid.uuid4())
    async with handover(test_env, topic, group=group, config=text, config_dir=tmp_path) as (_, c):
        await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "one@example.org", lead_id=first)])
        await eventually(lambda: _count(c, 1), what="the first assignment")
    async with handover(test_env, topic, group=group, config=text, config_dir=tmp_path) as (_, c):  # a restart
        await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "two@example.org")])
        await eventually(lambda: _count(c, 2), what="the second assignment")
        after_restart = [a["member"] for a in reversed(await assignments(c, team="duo"))]
    assert after_restart == ["anna", "ben"]  # the rotation went on where it stopped

    # two instances in one consumer group, each with some partitions, share one rotation
    async with handover(test_env, topic, group=group, config=text, config_dir=tmp_path) as (_, a):
        async with handover(test_env, topic, group=group, config=text, config_dir=tmp_path):
            await asyncio.sleep(3)  # let the group settle on two members
            await produce(test_env.infra.kafka_bootstrap, topic,
                          [stage_event(Stage.SQL, f"many{i}@example.org") for i in range(10)])
            await eventually(lambda: _count(a, 12), what="twelve assignments")
            # the first lead qualifies again (recycled, then back): it goes back to its owner
            await produce(test_env.infra.kafka_bootstrap, topic, [stage_event(Stage.SQL, "one@example.org", lead_id=first)])
            await eventually(lambda: _count(a, 13), what="the repeat assignment")
            made = await assignments(a, team="duo")
    assert Counter(x["member"] for x in made[1:]) == {"anna": 6, "ben": 6}
    in_lock_order = [x["member"] for x in sorted(made[1:], key=lambda x: x["id"])]
    assert in_lock_order == ["anna", "ben"] * 6  # one rotation: no instance ever read a stale state
    assert made[0]["lead_id"] == first and made[0]["member"] == "anna" and "kept the previous owner" in made[0]["reason"]


async def _count(client, n: int) -> bool:
    return len(await assignments(client, team="duo")) >= n
