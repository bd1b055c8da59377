"""A fault-test run: real ingest and scoring processes, a steady sender, and the checks.

The checks compare the end state with an independent recomputation from the touchpoints
ingest acknowledged (202): each lead's touchpoints are folded through the pure scoring
domain in the order they were acknowledged.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from leadflow_events import decode_event
from leadflow_ingest.contracts import TouchpointIn
from leadflow_ingest.publish import build_event
from leadflow_runtime.db import make_engine
from leadflow_scoring.adapters.tables import leads, outbox, stage_history, touchpoints
from leadflow_scoring.apply import to_touchpoint
from leadflow_scoring.domain.scoring import score_touchpoint
from leadflow_scoring.model_file import load_model
from tests.support.kafka import read_all
from tests.support.processes import ServiceProcess
from tests.support.stack import TestEnv

KINDS = [
    ("page_viewed", 30), ("email_clicked", 15), ("form_submitted", 8), ("content_downloaded", 8), ("webinar_attended", 4),
    ("newsletter_confirmed", 4), ("event_visited", 2), ("demo_requested", 2), ("unsubscribed", 2), ("survey_completed", 3),
]
TITLES = ["Head of Sales", "Marketing Manager", "CTO", "Student", "Engineer", "VP Marketing", None]
# Recent times: decay reviews (weeks away) must not fire during a run; the recomputation ignores them.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)


def make_touchpoints(n: int, leads_count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds, weights = zip(*KINDS)
    out = []
    for i in range(n):
        lead = rng.randrange(leads_count)
        domain = "gmail.com" if lead % 5 == 0 else f"company{lead % 97}.example"
        body: dict[str, Any] = {
            "type": rng.choices(kinds, weights)[0], "email": f"lead{lead}@{domain}",
            "occurred_at": (T0 + timedelta(seconds=i)).isoformat(), "event_id": f"fault-{seed}-{i}",
        }
        if body["type"] == "page_viewed":
            body["properties"] = {"page_url": rng.choice(["https://x.example/pricing", "https://x.example/careers", "https://x.example/blog"])}
        if rng.random() < 0.2:
            body["profile"] = {"job_title": rng.choice(TITLES), "company_size": rng.choice([5, 60, 500, None])}
        out.append(body)
    return out


@dataclass
class Run:
    env: TestEnv
    extra_env: dict[str, str] = field(default_factory=dict)
    acknowledged: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (event_id, body) in ack order
    rejected: int = 0
    unconfirmed: set[str] = field(default_factory=set)
    """Lead keys of touchpoints answered 503: not accepted, yet possibly written after all (then once)."""
    ingest: ServiceProcess | None = None
    scorers: list[ServiceProcess] = field(default_factory=list)

    @property
    def service_env(self) -> dict[str, str]:
        return {**self.env.env, "LEADFLOW_INGEST_PRODUCE_TIMEOUT_SECONDS": "2", **self.extra_env}

    def start_ingest(self) -> ServiceProcess:
        self.ingest = ServiceProcess("ingest", self.service_env, name="fault-ingest").start()
        return self.ingest

    def start_scoring(self, name: str = "fault-scoring", wait_ready: bool = True) -> ServiceProcess:
        proc = ServiceProcess("scoring", self.service_env, name=name).start(wait_ready=wait_ready)
        self.scorers.append(proc)
        return proc

    def stop_all(self) -> None:
        for p in [*self.scorers, self.ingest]:
            if p is not None:
                try:
                    p.stop()
                except Exception:
                    p.kill()

    async def send(self, bodies: list[dict[str, Any]], batch: int = 100, pause: float = 0.05, deadline_s: float = 120) -> None:
        """Post in batches; a batch answered 503 is resent (same event ids) until acknowledged."""
        assert self.ingest
        deadline = time.monotonic() + deadline_s
        async with httpx.AsyncClient(base_url=self.ingest.url, timeout=10) as client:
            for i in range(0, len(bodies), batch):
                chunk = bodies[i : i + batch]
                while True:
                    if time.monotonic() > deadline:
                        raise TimeoutError("sending did not finish in time")
                    try:
                        r = await client.post("/v1/touchpoints/batch", json={"touchpoints": chunk})
                    except httpx.HTTPError:
                        self.rejected += 1
                        await asyncio.sleep(0.5)
                        continue
                    if r.status_code == 202:
                        self.acknowledged.extend(zip(r.json()["event_ids"], chunk))
                        break
                    assert r.status_code == 503, r.text
                    assert r.headers.get("retry-after")
                    self.rejected += 1
                    await asyncio.sleep(0.5)
                await asyncio.sleep(pause)

    def recompute(self) -> tuple[dict[str, Any], set[tuple[str, str | None, str, str | None]]]:
        """Expected lead states and stage transitions from the acknowledged touchpoints alone."""
        model = load_model()
        now = datetime.now(UTC)
        states: dict[str, Any] = {}
        transitions: set[tuple[str, str | None, str, str | None]] = set()
        seen: set[str] = set()
        for event_id, body in self.acknowledged:
            if event_id in seen:
                continue
            seen.add(event_id)
            tp = to_touchpoint(build_event(TouchpointIn(**body), event_id, now, None))
            scored = score_touchpoint(states.get(tp.lead_key), tp, model)
            states[tp.lead_key] = scored.state
            for c in scored.changes:
                transitions.add((c.lead_id, c.from_stage.value if c.from_stage else None, c.to_stage.value, c.touchpoint_id))
        return states, transitions

    async def wait_applied(self, timeout: float = 180) -> None:
        expected = len({e for e, _ in self.acknowledged})
        engine = make_engine(self.env.database_url)
        try:
            deadline = time.monotonic() + timeout
            applied = pending = -1
            while time.monotonic() < deadline:
                try:
                    async with engine.connect() as conn:
                        applied = await conn.scalar(select(func.count()).select_from(touchpoints))
                        pending = await conn.scalar(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None)))
                    if applied >= expected and pending == 0:
                        return
                except Exception:
                    pass
                await asyncio.sleep(0.5)
            raise TimeoutError(f"applied {applied} of {expected} touchpoints, {pending} outbox rows pending")
        finally:
            await engine.dispose()

    async def check(self) -> dict[str, int]:
        """Compare the database and the stage topic with the recomputation; return the figures seen."""
        expected_states, expected_transitions = self.recompute()
        engine = make_engine(self.env.database_url)
        try:
            async with engine.connect() as conn:
                rows = {r.lead_key: r for r in await conn.execute(select(leads))}
                history = list(await conn.execute(select(stage_history)))
                stored_touchpoints = await conn.scalar(select(func.count()).select_from(touchpoints))
        finally:
            await engine.dispose()
        mismatches = [
            (key, (s.stage.value, s.score), (rows[key].stage, rows[key].score) if key in rows else None)
            for key, s in expected_states.items()
            if key not in rows or rows[key].stage != s.stage.value or rows[key].score != s.score
            or rows[key].touchpoint_count != s.touchpoint_count
        ]
        assert not mismatches, f"{len(mismatches)} leads differ from the recomputation, e.g. {mismatches[:3]}"
        extra = set(rows) - set(expected_states)
        assert extra <= self.unconfirmed, f"leads exist that no touchpoint sent explains: {sorted(extra)[:5]}"
        for key in extra:
            assert rows[key].touchpoint_count == 1  # a 503'd touchpoint that arrived after all arrived once
        assert stored_touchpoints == len({e for e, _ in self.acknowledged}) + len(extra)

        extra_ids = {str(rows[key].lead_id) for key in extra}
        history = [h for h in history if str(h.lead_id) not in extra_ids]
        db_transitions = Counter((str(h.lead_id), h.from_stage, h.to_stage, h.touchpoint_id) for h in history)
        assert set(db_transitions) == expected_transitions, "stage history differs from the recomputation"
        assert max(db_transitions.values(), default=1) == 1, "a transition was recorded twice"

        records = await read_all(self.env.infra.kafka_bootstrap, self.env.stages_topic, expect=len(expected_transitions), timeout=30)
        events = [e for e in (decode_event(r.value, r.headers) for r in records) if e.data.lead_id not in extra_ids]
        by_id = Counter(e.id for e in events)
        distinct = {e.id: e for e in events}.values()
        topic_transitions = Counter(
            (e.data.lead_id, e.data.from_stage.value if e.data.from_stage else None, e.data.to_stage.value, e.data.cause.touchpoint_id)
            for e in distinct
        )
        missing = expected_transitions - set(topic_transitions)
        assert not missing, f"{len(missing)} stage events never reached the topic, e.g. {list(missing)[:3]}"
        assert set(topic_transitions) == expected_transitions
        assert max(topic_transitions.values(), default=1) == 1, "two different events for one transition"
        # in order per lead: a lead's events on the topic follow its stage history
        per_lead: dict[str, list[str]] = defaultdict(list)
        for e in events:
            if by_id[e.id] and e.id not in per_lead[e.data.lead_id]:
                per_lead[e.data.lead_id].append(e.id)
        history_order: dict[str, list[str]] = defaultdict(list)
        for h in sorted(history, key=lambda h: h.id):
            history_order[str(h.lead_id)].append(h.event_id)
        assert per_lead == history_order, "stage events left out of order for some lead"
        return {
            "acknowledged": len(self.acknowledged),
            "leads": len(rows),
            "stage_events": len(expected_transitions),
            "missing": len(missing),
            "duplicate_transitions": sum(v - 1 for v in topic_transitions.values()),
            "republished_records": sum(v - 1 for v in by_id.values()),
            "rejected_batches": self.rejected,
        }
