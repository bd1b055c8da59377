"""The scoring worker on the real broker and database: batches, duplicates, dead letters, the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from sqlalchemy import func, select

from leadflow_events import dead_letter_topic, decode_event
from leadflow_runtime.db import make_engine
from leadflow_scoring.adapters.tables import consumer_offsets, leads, stage_history, touchpoints
from leadflow_scoring.app import create_app
from leadflow_scoring.domain.scoring import lead_id_for
from leadflow_scoring.settings import ScoringSettings
from tests.support.events import record, touchpoint
from tests.support.kafka import produce, read_all

pytestmark = pytest.mark.integration
BOSS = {"job_title": "VP Sales", "company_size": 400, "company": "Bigco"}


@contextlib.asynccontextmanager
async def scoring_running(test_env, **overrides):
    settings = ScoringSettings(**{k.removeprefix("LEADFLOW_").lower(): v for k, v in test_env.env.items()}, **overrides)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return False


async def test_batch_scoring_with_duplicates_and_poison_records(test_env):
    bootstrap = test_env.infra.kafka_bootstrap
    good = [
        touchpoint("form_submitted", "vp@bigco.example", 0, profile=BOSS, event_id="tp-1"),
        touchpoint("page_viewed", "vp@bigco.example", 1, event_id="tp-2", page_url="https://x.example/pricing"),
        touchpoint("page_viewed", "vp@bigco.example", 1, event_id="tp-2", page_url="https://x.example/pricing"),  # duplicate
        touchpoint("demo_requested", "vp@bigco.example", 2, event_id="tp-3"),
        touchpoint("newsletter_subscribed", "quiet@bigco.example", 0, event_id="tp-4"),
    ]
    poison = [
        (b"poison-1", b"{this is not json", [("content-type", b"application/cloudevents+json")]),
        (b"poison-2", b'{"type": "leadflow.touchpoint.recorded.v1", "id": "x", "source": "s", "time": "2026-01-01T00:00:00Z", "data": {"identity": {}}}', []),
        (b"poison-3", b'{"type": "leadflow.fax.received.v1", "id": "y"}', []),
    ]
    records = [record(good[0]), poison[0], record(good[1]), poison[1], record(good[2]), record(good[3]), poison[2], record(good[4])]
    await produce(bootstrap, test_env.touchpoints_topic, records)

    engine = make_engine(test_env.database_url)
    try:
        async with scoring_running(test_env):
            async def all_applied() -> bool:
                async with engine.connect() as conn:
                    return await conn.scalar(select(func.count()).select_from(touchpoints)) == 4

            assert await wait_until(all_applied), "touchpoints were not applied"
            dead = await read_all(bootstrap, dead_letter_topic(test_env.touchpoints_topic), expect=3)
            stages = await read_all(bootstrap, test_env.stages_topic, expect=4)

        async with engine.connect() as conn:
            vp = (await conn.execute(select(leads).where(leads.c.lead_key == "vp@bigco.example"))).one()
            history = (await conn.execute(
                select(stage_history.c.to_stage).where(stage_history.c.lead_id == vp.lead_id).order_by(stage_history.c.id)
            )).scalars().all()
            stored = dict((await conn.execute(select(consumer_offsets.c.partition, consumer_offsets.c.next_offset))).all())
    finally:
        await engine.dispose()

    assert vp.stage == "sql"
    assert vp.touchpoint_count == 3  # the duplicate was dropped
    assert history == ["lead", "mql", "sql"]
    # every record, poison included, is behind the stored offsets
    assert sum(stored.values()) == len(records)

    assert sorted(r.key for r in dead) == [b"poison-1", b"poison-2", b"poison-3"]
    for r in dead:
        headers = dict(r.headers)
        assert headers["leadflow-dlq-topic"] == test_env.touchpoints_topic.encode()
        assert headers["leadflow-dlq-error"]
        assert int(headers["leadflow-dlq-offset"]) >= 0
    assert b"not JSON" in dict(next(r for r in dead if r.key == b"poison-1").headers)["leadflow-dlq-error"]

    events = [decode_event(r.value, r.headers) for r in stages]
    vp_events = [e for e in events if e.subject == lead_id_for("vp@bigco.example")]
    assert [e.data.to_stage for e in vp_events] == ["lead", "mql", "sql"]  # in order: one key, one partition
    assert all(r.key == lead_id_for("vp@bigco.example").encode() for r in stages if r.key.startswith(vp_events[0].subject.encode()))
    assert len({e.id for e in events}) == len(events) == 4  # lead, mql, sql for vp; lead for quiet


async def test_restart_resumes_from_stored_offsets_without_reapplying(test_env):
    """A second worker with the same group (after the first stopped) applies only new records."""
    bootstrap = test_env.infra.kafka_bootstrap
    engine = make_engine(test_env.database_url)
    try:
        async with engine.connect() as conn:
            before = await conn.scalar(select(func.count()).select_from(touchpoints))
        await produce(bootstrap, test_env.touchpoints_topic, [record(touchpoint("email_clicked", "quiet@bigco.example", 5, event_id="tp-5"))])
        async with scoring_running(test_env):
            async def applied() -> bool:
                async with engine.connect() as conn:
                    return await conn.scalar(select(func.count()).select_from(touchpoints)) == before + 1

            assert await wait_until(applied)
            await asyncio.sleep(1.0)
        async with engine.connect() as conn:
            quiet = (await conn.execute(select(leads).where(leads.c.lead_key == "quiet@bigco.example"))).one()
            history_count = await conn.scalar(select(func.count()).select_from(stage_history))
    finally:
        await engine.dispose()
    assert quiet.touchpoint_count == 2
    assert history_count == 4  # nothing from the first run was emitted again


async def test_decayed_mql_is_recycled_by_the_sweep_and_explained(test_env):
    import httpx

    bootstrap = test_env.infra.kafka_bootstrap
    manager = {"job_title": "Marketing Manager", "company_size": 250}  # fit 20 + form 50 = MQL at 70
    from datetime import UTC, datetime

    old = touchpoint("form_submitted", "cooled@bigco.example", profile=manager, event_id="tp-old",
                     at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    await produce(bootstrap, test_env.touchpoints_topic, [record(old)])
    engine = make_engine(test_env.database_url)
    try:
        async with scoring_running(test_env, scoring_decay_sweep_seconds=0.5) as app:
            async def recycled() -> bool:
                async with engine.connect() as conn:
                    rows = (await conn.execute(
                        select(stage_history.c.to_stage, stage_history.c.cause)
                        .where(stage_history.c.lead_id == lead_id_for("cooled@bigco.example")).order_by(stage_history.c.id)
                    )).all()
                return [tuple(r) for r in rows] == [("lead", "touchpoint"), ("mql", "touchpoint"), ("lead", "decay")]

            assert await wait_until(recycled), "the decayed MQL was not recycled"
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring") as client:
                lead_id = lead_id_for("cooled@bigco.example")
                now = (await client.get(f"/v1/leads/{lead_id}/score")).json()
                then = (await client.get(f"/v1/leads/{lead_id}/score", params={"at": "2026-03-02T09:00:00Z"})).json()
                missing = await client.get("/v1/leads/00000000-0000-0000-0000-000000000000/score")
    finally:
        await engine.dispose()
    assert then["score"] == 70 and then["engagement"] == 50
    assert now["score"] < 55 and now["stage"] == "lead"
    for view in (now, then):
        assert sum(line["value_now"] for line in view["ledger"]) == view["score"]
    form = next(line for line in now["ledger"] if line["rule_id"] == "contact-form")
    assert form["raw_points"] == 50 and form["decayed_by"] > 0
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_simulating_a_draft_model_reports_changes_without_touching_live_state(test_env):
    import httpx

    from leadflow_scoring.model_file import DEFAULT_MODEL_PATH

    draft = DEFAULT_MODEL_PATH.read_text().replace("mql: 65", "mql: 10").replace("mql_min_engagement: 20", "mql_min_engagement: 0")
    engine = make_engine(test_env.database_url)
    try:
        async with scoring_running(test_env) as app:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring") as client:
                report = (await client.post("/v1/models/simulate", json={"model": draft})).json()
                same = (await client.post("/v1/models/simulate", json={"model": DEFAULT_MODEL_PATH.read_text()})).json()
                bad = await client.post("/v1/models/simulate", json={"model": draft.replace("op: regex", "op: 'gt='")})
        async with engine.connect() as conn:
            quiet = (await conn.execute(select(leads.c.stage).where(leads.c.lead_key == "quiet@bigco.example"))).scalar_one()
    finally:
        await engine.dispose()
    assert report["leads"] == 3
    became = {s["lead_id"] for s in report["changes"]["would_become_mql"]["sample"]}
    assert lead_id_for("quiet@bigco.example") in became
    assert report["stages_before"]["sql"] == report["stages_after"]["sql"] == 1  # sales keeps its lead
    assert sum(b["before"] for b in report["score_distribution"]) == 3
    assert quiet == "lead"  # the simulation changed nothing
    assert all(v["count"] == 0 for v in same["changes"].values())  # today's model replayed gives today's stages
    assert bad.status_code == 422
    assert "unknown operator 'gt='" in bad.json()["detail"] or any("gt=" in e["message"] for e in bad.json()["errors"])


async def test_activating_a_model_rescores_every_lead_once_and_keeps_sales_leads(test_env):
    import httpx

    from leadflow_scoring.model_file import DEFAULT_MODEL_PATH, parse_model

    draft = DEFAULT_MODEL_PATH.read_text().replace("mql: 65", "mql: 10").replace("mql_min_engagement: 20", "mql_min_engagement: 0")
    new_hash = parse_model(draft).hash
    bootstrap = test_env.infra.kafka_bootstrap
    seen_before = {decode_event(r.value, r.headers).id for r in await read_all(bootstrap, test_env.stages_topic, timeout=5)}
    stages_before = len(seen_before)
    engine = make_engine(test_env.database_url)
    try:
        async with scoring_running(test_env) as app:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring") as client:
                first = await client.post("/v1/models/activate", json={"model": draft})
                assert first.status_code == 202, first.text
                job_id = first.json()["job_id"]

                async def finished() -> bool:
                    return (await client.get(f"/v1/models/jobs/{job_id}")).json()["status"] == "done"

                assert await wait_until(finished), "rescoring job did not finish"
                job = (await client.get(f"/v1/models/jobs/{job_id}")).json()
                again = (await client.post("/v1/models/activate", json={"model": draft})).json()
                active = (await client.get("/v1/models/active")).json()
            await produce(bootstrap, test_env.touchpoints_topic,
                          [record(touchpoint("page_viewed", "late@bigco.example", 9, event_id="tp-late"))])

            async def late_applied() -> bool:
                async with engine.connect() as conn:
                    return await conn.scalar(select(leads.c.model_hash).where(leads.c.lead_key == "late@bigco.example")) is not None

            assert await wait_until(late_applied)
            stages = await read_all(bootstrap, test_env.stages_topic, expect=stages_before + 2, timeout=15)
        async with engine.connect() as conn:
            rows = {r.lead_key: r for r in await conn.execute(select(leads))}
    finally:
        await engine.dispose()
    assert job["total"] == job["done"] == 3 and job["changed"] >= 1 and job["progress"] == 1.0
    assert again["already_active"] is True and again["job_id"] is None
    assert active["hash"] == new_hash
    assert rows["quiet@bigco.example"].stage == "mql"
    assert rows["vp@bigco.example"].stage == "sql"  # with sales already: not taken back, not handed over again
    assert all(r.model_hash == new_hash for r in rows.values())
    new_events = [e for e in (decode_event(r.value, r.headers) for r in stages) if e.id not in seen_before]
    model_changed = [e for e in new_events if e.data.cause.kind == "model_changed"]
    # quiet (13 points) and cooled (decayed below 55) clear the new MQL line of 10
    assert sorted((e.subject, e.data.from_stage, e.data.to_stage) for e in model_changed) == sorted([
        (lead_id_for("quiet@bigco.example"), "lead", "mql"), (lead_id_for("cooled@bigco.example"), "lead", "mql"),
    ])
    assert job["changed"] == 2
    assert all(e.data.model.hash == new_hash for e in new_events), [(e.data.to_stage, e.data.cause.kind, e.data.model.hash) for e in new_events]


async def test_rescoring_pages_in_flight_commit_in_order_and_a_failed_page_is_redone(test_env, monkeypatch):
    """Two pages in flight: every lead is rescored exactly once, also when a page fails after the next one started."""
    from datetime import UTC, datetime

    from leadflow_runtime.health import Heartbeat
    from leadflow_scoring import rescoring_job
    from leadflow_scoring.adapters.tables import rescore_jobs, score_ledger
    from leadflow_scoring.model_file import DEFAULT_MODEL_PATH, load_model, parse_model
    from leadflow_scoring.model_registry import ModelRegistry

    emails = [f"lead{i}@bigco.example" for i in range(17)]
    records = [record(touchpoint(kind, email, n, event_id=f"tp-{email}-{kind}"))
               for n, email in enumerate(emails) for kind in ("page_viewed", "content_downloaded")]
    await produce(test_env.infra.kafka_bootstrap, test_env.touchpoints_topic, records)
    engine = make_engine(test_env.database_url)
    try:
        async with scoring_running(test_env):
            async def applied() -> bool:
                async with engine.connect() as conn:
                    return await conn.scalar(select(func.count()).select_from(touchpoints).where(
                        touchpoints.c.event_id.like("tp-lead%@bigco.example-%"))) == len(records)
            assert await wait_until(applied)
        async with engine.connect() as conn:  # the module's other tests left leads too: pages run over all of them
            all_ids = sorted(str(i) for i in await conn.scalars(select(leads.c.lead_id)))

        draft = DEFAULT_MODEL_PATH.read_text().replace("mql: 65", "mql: 60")
        model = parse_model(draft)
        registry = ModelRegistry(load_model(), str(DEFAULT_MODEL_PATH))
        await registry.seed(engine)
        activation = await registry.activate(engine, model, draft, datetime.now(UTC))

        real_flush = rescoring_job.Writes.flush
        failures = []

        third_page = all_ids[4]  # pages of two, in lead id order

        async def flush_failing_once(self, conn):  # the third page fails once, after the fourth started
            if not failures and any(lead.lead_id == third_page for lead in self.leads.values()):
                failures.append(True)
                await asyncio.sleep(0.2)
                raise ConnectionResetError("connection lost while writing")
            await real_flush(self, conn)

        monkeypatch.setattr(rescoring_job.Writes, "flush", flush_failing_once)
        worker = rescoring_job.RescoringWorker(engine=engine, registry=registry, stage_topic=test_env.stages_topic,
                                               heartbeat=Heartbeat("rescoring"), batch=2)
        async with engine.connect() as conn:
            job = (await conn.execute(select(rescore_jobs).where(rescore_jobs.c.id == activation.job_id))).first()
        with pytest.raises(ConnectionResetError):
            await worker._run_job(job)
        async with engine.connect() as conn:
            job = (await conn.execute(select(rescore_jobs).where(rescore_jobs.c.id == activation.job_id))).first()
        assert job.done == 4 and job.status == "running"  # pages 1 and 2 committed; 3 failed, 4 waited and rolled back
        await worker._run_job(job)  # the run loop claims the job again and goes on from its cursor
        async with engine.connect() as conn:
            job = (await conn.execute(select(rescore_jobs).where(rescore_jobs.c.id == activation.job_id))).first()
            mine = [lead_id_for(e) for e in emails]
            hashes = [r.model_hash for r in await conn.execute(select(leads.c.model_hash).where(leads.c.lead_id.in_(mine)))]
            ledger = list(await conn.execute(
                select(score_ledger.c.lead_id, score_ledger.c.touchpoint_id, score_ledger.c.rule_id, func.count())
                .group_by(score_ledger.c.lead_id, score_ledger.c.touchpoint_id, score_ledger.c.rule_id)))
            ledger_hashes = {r.model_hash for r in await conn.execute(select(score_ledger.c.model_hash))}
    finally:
        await engine.dispose()
    assert failures == [True]
    assert job.status == "done" and job.done == job.total == len(all_ids)
    assert hashes == [model.hash] * len(emails)
    assert ledger_hashes == {model.hash}
    assert ledger and all(count == 1 for *_, count in ledger)  # no hit written twice
