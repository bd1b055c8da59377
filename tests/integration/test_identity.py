"""An anonymous visitor becomes a known lead: history merged, later anonymous touchpoints follow."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadflow_events import (
    TOUCHPOINT_RECORDED_V1, CloudEvent, LeadIdentity, LeadProfile, TouchpointRecorded, TouchpointType, encode_event,
)
from leadflow_runtime.db import make_engine
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS
from leadflow_scoring.adapters.tables import lead_aliases, leads, score_ledger, touchpoints
from leadflow_scoring.domain.scoring import lead_id_for
from tests.integration.test_scoring_worker import scoring_running
from tests.support.kafka import produce

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC).replace(microsecond=0)


def tp(kind: str, minutes: int, *, email: str | None = None, anon: str | None = None, **props):
    at = NOW - timedelta(hours=2) + timedelta(minutes=minutes)
    identity = LeadIdentity(email=email, anonymous_id=anon)
    data = TouchpointRecorded(touchpoint_type=TouchpointType(kind), occurred_at=at, received_at=at, identity=identity,
                              profile=LeadProfile(job_title="Head of IT", company_size=300) if email else LeadProfile(),
                              properties=props)
    event = CloudEvent[TouchpointRecorded](id=str(uuid.uuid4()), source="/tests", type=TOUCHPOINT_RECORDED_V1, time=at, data=data)
    return identity.lead_key.encode(), encode_event(event), list(CLOUDEVENT_HEADERS)


async def settle(engine, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            if await predicate(conn):
                return True
        await asyncio.sleep(0.2)
    return False


async def test_identifying_touchpoint_merges_the_anonymous_history(test_env):
    bootstrap, topic = test_env.infra.kafka_bootstrap, test_env.touchpoints_topic
    engine = make_engine(test_env.database_url)
    email = "ida@identity.example"
    try:
        async with scoring_running(test_env):
            await produce(bootstrap, topic, [
                tp("page_viewed", 0, anon="cookie-1", page_url="https://x.example/pricing"),
                tp("page_viewed", 1, anon="cookie-1", page_url="https://x.example/pricing"),
                tp("content_downloaded", 2, anon="cookie-1", asset="guide.pdf"),
            ])

            async def anon_scored(conn):
                return await conn.scalar(select(leads.c.touchpoint_count).where(leads.c.lead_key == "anon:cookie-1")) == 3

            assert await settle(engine, anon_scored)
            await produce(bootstrap, topic, [tp("form_submitted", 10, email=email, anon="cookie-1", form_id="contact")])

            async def merged(conn):
                return await conn.scalar(select(leads.c.touchpoint_count).where(leads.c.lead_key == email)) == 4

            assert await settle(engine, merged), "the anonymous history was not merged"
            await produce(bootstrap, topic, [
                tp("page_viewed", 20, anon="cookie-1", page_url="https://x.example/docs"),
                tp("form_submitted", 25, email="someone-else@identity.example", anon="cookie-1"),  # already linked to ida
            ])

            async def followed(conn):
                return await conn.scalar(select(leads.c.touchpoint_count).where(leads.c.lead_key == email)) == 5

            assert await settle(engine, followed), "a later anonymous touchpoint did not reach the known lead"
            await asyncio.sleep(1)
        async with engine.connect() as conn:
            rows = {r.lead_key: r for r in await conn.execute(select(leads))}
            alias = (await conn.execute(select(lead_aliases.c.lead_key).where(lead_aliases.c.alias_key == "anon:cookie-1"))).scalar_one()
            ledger_sum = await conn.scalar(select(func.sum(score_ledger.c.points)).where(score_ledger.c.lead_id == lead_id_for(email)))
            owned = await conn.scalar(select(func.count()).select_from(touchpoints).where(touchpoints.c.lead_id == lead_id_for(email)))
    finally:
        await engine.dispose()
    assert "anon:cookie-1" not in rows  # the anonymous lead is gone, not duplicated
    assert alias == email
    ida = rows[email]
    assert owned == 5 and ida.touchpoint_count == 5
    # combined history: two pricing views (+10 +1 each), download +15, form +50, docs view +1 -> 88 points
    assert ledger_sum == 88
    assert ida.stage in ("mql", "sql")
    assert rows["someone-else@identity.example"].touchpoint_count == 1
