"""Scoring consumes sales feedback from Kafka: stage changes SQL -> SAL -> customer / lost and recycling with the
reason, exactly once (redelivered events change nothing), dead letters for poison, and the funnel's handover figures;
assignments from handover become the leads' current team and rep, which the lead list filters on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from leadflow_events import (
    HANDOVER_ASSIGNED_V1, HANDOVER_FEEDBACK_RECORDED_V1, HANDOVER_SLA_BREACHED_V1, AssignmentReason, CloudEvent,
    FeedbackChannel, FeedbackDecision, HandoverAssigned, HandoverFeedbackRecorded, HandoverSlaBreached, RejectionReason,
    StageCauseKind, dead_letter_topic, decode_event, encode_event,
)
from leadflow_runtime.db import make_engine
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS
from leadflow_scoring.adapters.tables import handover_feedback, leads
from leadflow_scoring.domain.scoring import lead_id_for
from tests.integration.test_scoring_worker import scoring_running, wait_until
from tests.support.events import record, touchpoint
from tests.support.kafka import produce, read_all

pytestmark = pytest.mark.integration
BOSS = {"job_title": "VP Sales", "company_size": 400, "company": "Bigco"}
NOW = datetime.now(UTC).replace(microsecond=0)


def feedback(lead_id: str, decision: FeedbackDecision, minutes: float, *, event_id: str | None = None, **kw) -> tuple:
    at = NOW + timedelta(minutes=minutes)
    data = HandoverFeedbackRecorded(
        lead_id=lead_id, handover_id=f"ho_{lead_id[:8]}", stage_event_id="ev-sql", decision=decision, qualified_at=NOW,
        handed_over_at=NOW, decided_at=at, team="inbound", member="anna", channel=FeedbackChannel.LINK, **kw,
    )
    event = CloudEvent[HandoverFeedbackRecorded](
        id=event_id or str(uuid.uuid4()), source="/tests", type=HANDOVER_FEEDBACK_RECORDED_V1, time=at, subject=lead_id, data=data,
    )
    return lead_id.encode(), encode_event(event), list(CLOUDEVENT_HEADERS)


def breach(lead_id: str, minutes: float) -> tuple:
    at = NOW + timedelta(minutes=minutes)
    data = HandoverSlaBreached(lead_id=lead_id, handover_id=f"ho_{lead_id[:8]}", stage_event_id="ev-sql", escalation=1,
                               deadline=at, breached_at=at, qualified_at=NOW, team="inbound", missed_by="anna")
    event = CloudEvent[HandoverSlaBreached](id=str(uuid.uuid4()), source="/tests", type=HANDOVER_SLA_BREACHED_V1, time=at,
                                            subject=lead_id, data=data)
    return lead_id.encode(), encode_event(event), list(CLOUDEVENT_HEADERS)


def qualifying(email: str, n: int = 0) -> list[tuple]:
    at = NOW - timedelta(hours=1)
    return [record(touchpoint("form_submitted", email, 0, profile=BOSS, at=at + timedelta(seconds=n))),
            record(touchpoint("demo_requested", email, 1, at=at + timedelta(seconds=n + 1)))]


async def stage_of(engine, lead_id: str) -> str | None:
    async with engine.connect() as conn:
        return await conn.scalar(select(leads.c.stage).where(leads.c.lead_id == lead_id))


async def test_feedback_moves_stages_once_recycles_with_the_reason_and_feeds_the_funnel(test_env):
    bootstrap = test_env.infra.kafka_bootstrap
    won, back, unknown = "won@bigco.example", "back@bigco.example", str(uuid.uuid4())
    won_id, back_id = lead_id_for(won), lead_id_for(back)
    await produce(bootstrap, test_env.touchpoints_topic, qualifying(won) + qualifying(back, 10))
    engine = make_engine(test_env.database_url)
    try:
        async with scoring_running(test_env, scoring_admin_key="scoring-feedback-admin-key-0001") as app:
            async def both_sql() -> bool:
                return await stage_of(engine, won_id) == "sql" and await stage_of(engine, back_id) == "sql"

            assert await wait_until(both_sql), "the leads did not become SQL"
            accepted = feedback(won_id, FeedbackDecision.ACCEPTED, 12, event_id="fb-accept-1")
            await produce(bootstrap, test_env.feedback_topic, [
                accepted, accepted,  # redelivered: applied once
                feedback(won_id, FeedbackDecision.WON, 60, amount=5000.0, currency="EUR"),
                breach(back_id, 61),
                feedback(back_id, FeedbackDecision.REJECTED, 90, reason=RejectionReason.NOT_NOW, note="budget in Q2"),
                feedback(unknown, FeedbackDecision.ACCEPTED, 5),  # an erased (or never known) lead: dropped
                (b"poison", b'{"type": "leadflow.handover.feedback_recorded.v1", "id": "p", "data": {}}', list(CLOUDEVENT_HEADERS)),
            ])

            async def settled() -> bool:
                return await stage_of(engine, won_id) == "customer" and await stage_of(engine, back_id) == "lead"

            assert await wait_until(settled), "the feedback was not applied"
            await produce(bootstrap, test_env.feedback_topic, [accepted])  # and once more, later
            # a page view does not take a lead sales sent back straight to SQL again; a new demo request does
            await produce(bootstrap, test_env.touchpoints_topic, [
                record(touchpoint("page_viewed", back, 3, page_url="https://x.example/pricing", at=NOW + timedelta(hours=2)))])
            assert not await wait_until(lambda: _is(engine, back_id, "sql"), timeout=3)
            await produce(bootstrap, test_env.touchpoints_topic, [
                record(touchpoint("demo_requested", back, 4, at=NOW + timedelta(hours=3)))])
            assert await wait_until(lambda: _is(engine, back_id, "sql")), "the lead did not qualify again"

            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring") as client:
                auth = {"authorization": "Bearer scoring-feedback-admin-key-0001"}
                lead = (await client.get(f"/v1/leads/{back_id}")).json()
                day = NOW.date()
                funnel = (await client.get("/v1/funnel", headers=auth,
                                           params={"from": str(day - timedelta(days=1)), "to": str(day + timedelta(days=1))})).json()
            dead = await read_all(bootstrap, dead_letter_topic(test_env.feedback_topic), expect=1)
            stages = await read_all(bootstrap, test_env.stages_topic, expect=9)
        async with engine.connect() as conn:
            recorded = await conn.scalar(select(func.count()).select_from(handover_feedback))
    finally:
        await engine.dispose()

    events = [decode_event(r.value, r.headers) for r in stages]
    mine = [(e.data.from_stage, e.data.to_stage, e.data.cause.kind) for e in events if e.subject == won_id]
    assert mine[-2:] == [("sql", "sal", StageCauseKind.SALES_FEEDBACK), ("sal", "customer", StageCauseKind.SALES_FEEDBACK)]
    assert sum(1 for m in mine if m[1] == "sal") == 1, "a redelivered acceptance must not move the lead again"
    recycled = next(e for e in events if e.subject == back_id and e.data.to_stage == "lead" and e.data.from_stage == "sql")
    assert recycled.data.cause.rejection_reason is RejectionReason.NOT_NOW and recycled.data.cause.handover_id
    assert "not_now" in recycled.data.cause.reason and "budget in Q2" in recycled.data.cause.reason

    history = [(h["from_stage"], h["to_stage"], h["cause"], h["rejection_reason"]) for h in lead["stage_history"]]
    assert history[:3] == [(None, "lead", "touchpoint", None), ("lead", "mql", "touchpoint", None),
                           ("mql", "sql", "fast_track", None)]
    assert history[3] == ("sql", "lead", "sales_feedback", "not_now")
    assert history[4:] == [("lead", "mql", "touchpoint", None), ("mql", "sql", "fast_track", None)]  # back in sales' hands
    assert lead["stage"] == "sql" and lead["requalify_at"] is None

    assert recorded == 4  # accepted, won, breach, rejected - not the duplicate, not the unknown lead
    assert [r.key for r in dead] == [b"poison"]
    h = funnel["handover"]
    assert (h["accepted"], h["rejected"], h["won"], h["lost"], h["sla_breaches"]) == (1, 1, 1, 0, 1)
    assert h["acceptance_rate"] == 0.5 and h["win_rate"] == 1.0
    assert h["time_to_acceptance"]["leads"] == 1 and h["time_to_acceptance"]["median_seconds"] == 720.0
    assert h["decided_after_breach"] == 0
    assert funnel["rejections"] == [{"reason": "not_now", "count": 1}]
    assert funnel["totals"]["entered"]["sal"] == 1 and funnel["totals"]["entered"]["customer"] == 1
    conv = {(c["from_stage"], c["to_stage"]): c for c in funnel["conversion"]}
    assert conv[("sql", "sal")]["to_count"] == 1 and conv[("sal", "customer")]["rate"] == 1.0


async def _is(engine, lead_id: str, stage: str) -> bool:
    return await stage_of(engine, lead_id) == stage


def assigned(lead_id: str, team: str | None, member: str | None, minutes: float, *, event_id: str | None = None,
             reason: AssignmentReason = AssignmentReason.ROUTING) -> tuple:
    at = NOW + timedelta(minutes=minutes)
    data = HandoverAssigned(lead_id=lead_id, handover_id=f"ho_{lead_id[:8]}", stage_event_id="ev-sql", team=team,
                            member=member, assigned_at=at, reason=reason, rule="by-country" if team else None)
    event = CloudEvent[HandoverAssigned](id=event_id or str(uuid.uuid4()), source="/tests", type=HANDOVER_ASSIGNED_V1,
                                         time=at, subject=lead_id, data=data)
    return lead_id.encode(), encode_event(event), list(CLOUDEVENT_HEADERS)


async def test_assignments_become_the_leads_team_and_rep_and_the_list_filters_on_them(test_env):
    bootstrap = test_env.infra.kafka_bootstrap
    emails = {name: f"{name}@assigned.example" for name in ("ada", "bob", "cy", "dee", "eve")}
    ids = {name: lead_id_for(email) for name, email in emails.items()}
    await produce(bootstrap, test_env.touchpoints_topic,
                  [r for n, email in enumerate(emails.values()) for r in qualifying(email, 20 + 2 * n)])
    engine = make_engine(test_env.database_url)
    try:
        async with scoring_running(test_env) as app:
            async def all_sql() -> bool:
                return all([await stage_of(engine, lead_id) == "sql" for lead_id in ids.values()])

            assert await wait_until(all_sql), "the leads did not become SQL"
            ada_routed = assigned(ids["ada"], "dach", "anna", 1)
            await produce(bootstrap, test_env.feedback_topic, [
                ada_routed,
                assigned(ids["bob"], "dach", "ben", 2),
                assigned(ids["cy"], "inbound", "lena", 3),
                assigned(ids["dee"], "inbound", None, 4),  # nobody in the team was available
                assigned(ids["ada"], "dach", "ben", 65, reason=AssignmentReason.SLA_REASSIGNMENT),  # anna missed the deadline
                ada_routed,  # redelivered late: older than the reassignment, changes nothing
                assigned(ids["eve"], "inbound", "omar", 5),
                assigned(ids["eve"], None, None, 90),  # qualified again later, no routing rule matched: nobody has it
                assigned(str(uuid.uuid4()), "dach", "anna", 5),  # an erased (or never known) lead: dropped
                (b"poison-assignment", orjson.dumps({**orjson.loads(ada_routed[1]), "id": "p2", "data": {"lead_id": ids["ada"]}}),
                 list(CLOUDEVENT_HEADERS)),
            ])

            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring") as client:
                async def listed(**params) -> set[str]:
                    page = (await client.get("/v1/leads", params={"limit": 100, **params})).raise_for_status().json()
                    return {item["lead_id"] for item in page["items"]}

                async def settled() -> bool:
                    return await listed(team="dach", rep="ben") == {ids["ada"], ids["bob"]} and not await listed(team="dach",
                                                                                                            rep="anna")

                assert await wait_until(settled), "the assignments were not applied"
                # a touchpoint rewrites the lead's scores; the assignment stays
                await produce(bootstrap, test_env.touchpoints_topic, [
                    record(touchpoint("page_viewed", emails["ada"], 9, page_url="https://x.example/pricing", at=NOW))])

                async def touched() -> bool:
                    lead = (await client.get(f"/v1/leads/{ids['ada']}")).json()
                    return lead["touchpoint_count"] == 3

                assert await wait_until(touched), "the page view was not applied"
                teams = {
                    "dach": await listed(team="dach"),
                    "inbound": await listed(team="inbound"),
                    "both": await listed(team=["dach", "inbound"]),
                    "ben": await listed(rep="ben"),
                    "lena or omar": await listed(rep=["lena", "omar"]),
                    "blank": await listed(team="", q="assigned"),
                    "nobody's": await listed(team="sales-ops"),
                    "dach by score": await listed(team="dach", sort="score", order="asc"),
                }
                page = (await client.get("/v1/leads", params={"team": "dach", "limit": 1})).json()
                second = (await client.get("/v1/leads", params={"team": "dach", "limit": 1, "cursor": page["next_cursor"]})).json()
                ada = (await client.get(f"/v1/leads/{ids['ada']}")).json()
                dee = (await client.get(f"/v1/leads/{ids['dee']}")).json()
                eve = (await client.get(f"/v1/leads/{ids['eve']}")).json()
                too_long = await client.get("/v1/leads", params={"team": "x" * 129})
                spec = (await client.get("/openapi.json")).json()
                erased = await client.delete(f"/v1/leads/{ids['bob']}")
                after_erasure = await listed(team="dach")
            dead = await read_all(bootstrap, dead_letter_topic(test_env.feedback_topic), expect=2)
    finally:
        await engine.dispose()

    assert teams["dach"] == {ids["ada"], ids["bob"]} == teams["ben"] == teams["dach by score"]
    assert teams["inbound"] == {ids["cy"], ids["dee"]}  # eve: nobody has it now; dee: the team without a member
    assert teams["both"] == teams["dach"] | teams["inbound"]
    assert teams["lena or omar"] == {ids["cy"]}
    assert teams["blank"] == set(ids.values()) and teams["nobody's"] == set()
    assert {page["items"][0]["lead_id"], second["items"][0]["lead_id"]} == teams["dach"] and second["next_cursor"] is None
    assert (ada["assignment"]["team"], ada["assignment"]["member"]) == ("dach", "ben")
    assert datetime.fromisoformat(ada["assignment"]["assigned_at"]) == NOW + timedelta(minutes=65)
    assert page["items"][0]["assignment"]["team"] == "dach"
    assert dee["assignment"]["team"] == "inbound" and dee["assignment"]["member"] is None
    assert eve["assignment"] is None
    assert too_long.status_code == 422
    params = {p["name"]: p for p in spec["paths"]["/v1/leads"]["get"]["parameters"]}
    assert params["team"]["examples"] and params["rep"]["examples"]
    assert erased.status_code in (200, 202, 204) and after_erasure == {ids["ada"]}
    assert b"poison-assignment" in [r.key for r in dead]
