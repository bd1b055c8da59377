"""Handover on the real broker and database, delivering to a real local HTTP receiver."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid

import pytest
from standardwebhooks import Webhook

from leadflow_events import (
    LEAD_STAGE_CHANGED_V1, CloudEvent, LeadSnapshot, LeadStageChanged, ModelVersion, Scores, Stage, StageCause,
    StageCauseKind, encode_event,
)
from leadflow_handover.app import create_app
from leadflow_handover.settings import HandoverSettings
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS
from tests.support.events import T0
from tests.support.kafka import produce
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.integration
SECRET = "whsec_" + base64.b64encode(b"handover-integration-secret-0001").decode()


def stage_event(to_stage: Stage, email: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    lead_id = str(uuid.uuid4())
    data = LeadStageChanged(
        lead_id=lead_id, from_stage=Stage.MQL, to_stage=to_stage, scores=Scores(score=120, fit=30, engagement=90),
        cause=StageCause(kind=StageCauseKind.TOUCHPOINT, reason="Score 120 reached the SQL threshold 100."),
        model=ModelVersion(id="default@1", hash="abc"), occurred_at=T0, lead=LeadSnapshot(email=email),
    )
    event = CloudEvent[LeadStageChanged](id=str(uuid.uuid4()), source="/tests", type=LEAD_STAGE_CHANGED_V1, time=T0,
                                         subject=lead_id, data=data)
    return lead_id.encode(), encode_event(event), list(CLOUDEVENT_HEADERS)


@contextlib.asynccontextmanager
async def handover_running(test_env, receiver: WebhookReceiver, group: str, schedule=(0, 0.3, 0.3, 0.3)):
    env = {k.removeprefix("LEADFLOW_").lower(): v for k, v in test_env.env.items()}
    env["handover_group_id"] = group
    settings = HandoverSettings(
        **env,
        handover_destinations=[{"name": "crm", "url": receiver.url, "secrets": [SECRET]}],
        handover_retry_schedule=schedule,
        handover_timeout_seconds=5,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def wait_received(receiver: WebhookReceiver, count: int, timeout: float = 20) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(receiver.snapshot()) < count:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.8)  # catch anything extra
    return receiver.snapshot()


async def deliveries_of(app) -> list[dict]:
    import httpx

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handover") as client:
        return (await client.get("/v1/deliveries")).json()


async def test_500_500_200_is_one_delivery_with_one_stable_id(test_env):
    with WebhookReceiver() as receiver:
        receiver.answer_next(500, 500)
        await produce(test_env.infra.kafka_bootstrap, test_env.stages_topic,
                      [stage_event(Stage.SQL, "flaky@example.org"), stage_event(Stage.MQL, "not-yet@example.org")])
        async with handover_running(test_env, receiver, f"{test_env.prefix}.h1") as app:
            got = await wait_received(receiver, 3)
            deliveries = await deliveries_of(app)
    assert [r.answered for r in got] == [500, 500, 200]
    assert len({r.headers["webhook-id"] for r in got}) == 1
    for r in got:
        Webhook(SECRET).verify(r.body, r.headers)
    assert got[0].json["lead"]["email"] == "flaky@example.org"
    assert len(deliveries) == 1  # the MQL event notifies nobody: destinations default to SQL only
    d = deliveries[0]
    assert d["status"] == "succeeded" and d["attempts"] == 3
    assert [a["status_code"] for a in d["attempt_log"]] == [500, 500, 200]


async def test_429_retry_after_is_honoured(test_env):
    with WebhookReceiver() as receiver:
        receiver.answer_next(429, headers={"Retry-After": "2"})
        await produce(test_env.infra.kafka_bootstrap, test_env.stages_topic, [stage_event(Stage.SQL, "busy@example.org")])
        async with handover_running(test_env, receiver, f"{test_env.prefix}.h2"):
            got = await wait_received(receiver, 2, timeout=30)
    mine = [r for r in got if r.json["lead"]["email"] == "busy@example.org"]
    assert [r.answered for r in mine] == [429, 200]
    assert mine[1].at - mine[0].at >= 1.9  # waited as asked, not the 0.3 s of the schedule


@pytest.mark.parametrize(("status", "final"), [(410, "disabled"), (400, "failed")])
async def test_gone_disables_and_client_errors_are_not_retried(test_env, status, final):
    with WebhookReceiver(default_status=status) as receiver:
        await produce(test_env.infra.kafka_bootstrap, test_env.stages_topic, [stage_event(Stage.SQL, f"s{status}@example.org")])
        async with handover_running(test_env, receiver, f"{test_env.prefix}.h{status}") as app:
            got = await wait_received(receiver, 1)
            await asyncio.sleep(1.0)
            deliveries = await deliveries_of(app)
    mine = [r for r in got if r.json["lead"]["email"] == f"s{status}@example.org"]
    assert len(mine) == 1  # no retry
    d = next(d for d in deliveries if d["id"] == mine[0].headers["webhook-id"])
    assert d["status"] == final


async def test_unreachable_receiver_fails_after_the_schedule(test_env):
    with WebhookReceiver() as receiver:
        url = receiver.url
    # the receiver is closed now: connections are refused
    env = {k.removeprefix("LEADFLOW_").lower(): v for k, v in test_env.env.items()}
    env["handover_group_id"] = f"{test_env.prefix}.h-down"
    settings = HandoverSettings(**env, handover_destinations=[{"name": "down", "url": url, "secrets": [SECRET]}],
                                handover_retry_schedule=(0, 0.2, 0.2))
    await produce(test_env.infra.kafka_bootstrap, test_env.stages_topic, [stage_event(Stage.SQL, "nobody@example.org")])
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        deadline = time.monotonic() + 20
        failed = []
        while time.monotonic() < deadline and not failed:
            failed = [d for d in await deliveries_of(app) if d["destination"] == "down" and d["status"] == "failed"]
            await asyncio.sleep(0.2)
    assert failed, "delivery never marked failed"
    assert failed[0]["attempts"] == 3
    assert all(a["status_code"] is None and a["error"] for a in failed[0]["attempt_log"])


async def test_the_intake_hands_new_deliveries_to_the_dispatcher_without_a_claim(test_env, monkeypatch):
    """A new SQL is sent straight from the intake's commit: with claiming switched off it still arrives, once,
    recorded as attempt 1 of a delivery that was claimed when it was written."""
    from leadflow_handover.dispatch import Dispatcher

    claims = []

    async def no_claim(self, limit):
        claims.append(limit)
        return []

    monkeypatch.setattr(Dispatcher, "_claim", no_claim)
    with WebhookReceiver() as receiver:
        await produce(test_env.infra.kafka_bootstrap, test_env.stages_topic, [stage_event(Stage.SQL, "handed@example.org")])
        async with handover_running(test_env, receiver, f"{test_env.prefix}.h-handoff") as app:
            got = await wait_received(receiver, 1)
            deliveries = await deliveries_of(app)
    mine = [r for r in got if r.json["lead"]["email"] == "handed@example.org"]
    assert [r.answered for r in mine] == [200]
    d = next(d for d in deliveries if d["id"] == mine[0].headers["webhook-id"])
    assert d["status"] == "succeeded" and d["attempts"] == 1
    assert claims, "the dispatcher loop ran (and claimed nothing): the hand-off did the sending"
    Webhook(SECRET).verify(mine[0].body, mine[0].headers)
