"""The whole pipeline for ``end-to-end`` and ``memory``: ingest, scoring and handover as processes, a
webhook receiver in its own process, and steady traffic in which some touchpoints make a lead SQL."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.infra import LOGS, ROOT, Service, TestEnv, isolated, libpq, running
from bench.scenarios.ingest import API_ENV

SECRET = "whsec_" + base64.b64encode(b"bench-webhook-secret-0123456789").decode()


@dataclass
class Pipeline:
    env: TestEnv
    ingest: Service
    scoring: Service
    handover: Service
    receiver: subprocess.Popen[str]
    receiver_out: Path

    @property
    def services(self) -> list[Service]:
        return [self.ingest, self.scoring, self.handover]

    def arrivals(self) -> list[dict[str, Any]]:
        """Stop the receiver and read what it received."""
        if self.receiver.poll() is None:
            self.receiver.terminate()
            self.receiver.wait(30)
        return json.loads(self.receiver_out.read_text()) if self.receiver_out.exists() else []

    async def delivered(self) -> int:
        conn = await asyncpg.connect(libpq(self.env.database_url))
        try:
            return await conn.fetchval("SELECT count(*) FROM handover.deliveries WHERE status = 'succeeded'")
        finally:
            await conn.close()

    async def stage_times(self) -> dict[str, dict[str, float]]:
        """Per delivered lead, when each stage of the path began (PostgreSQL ``now()``: transaction start times)."""
        conn = await asyncpg.connect(libpq(self.env.database_url))
        try:
            rows = await conn.fetch("""
                SELECT d.lead_id::text AS lead_id,
                       extract(epoch FROM h.recorded_at)::float8 AS scored,
                       extract(epoch FROM o.published_at)::float8 AS published,
                       extract(epoch FROM d.created_at)::float8 AS recorded
                FROM handover.deliveries d
                JOIN scoring.stage_history h ON h.event_id = d.stage_event_id
                LEFT JOIN scoring.outbox o
                  ON o.key = convert_to(d.lead_id::text, 'UTF8')
                 AND convert_from(o.value, 'UTF8')::jsonb ->> 'id' = d.stage_event_id
            """)
            return {r["lead_id"]: dict(r) for r in rows}
        finally:
            await conn.close()

    async def wait_delivered(self, expected: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        done = await self.delivered()
        while done < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            done = await self.delivered()
        return done


@contextmanager
def pipeline(ctx: Any, name: str) -> Iterator[Pipeline]:
    LOGS.mkdir(parents=True, exist_ok=True)
    receiver_out = LOGS / f"{name}-webhooks.json"
    receiver_out.unlink(missing_ok=True)
    receiver = subprocess.Popen([sys.executable, "-m", "bench.receiver", str(receiver_out)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        url = receiver.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the webhook receiver did not start ({url!r})")
        with isolated(ctx.infra, name) as env:
            destinations = json.dumps([{"name": "sales-crm", "url": url, "secrets": [SECRET]}])
            ingest = Service("ingest", {**env.env, **API_ENV}, name=f"{name}-ingest")
            scoring = Service("scoring", env.env, name=f"{name}-scoring")
            handover = Service("handover", {**env.env, "LEADFLOW_HANDOVER_DESTINATIONS": destinations},
                               name=f"{name}-handover")
            with running(ingest, scoring, handover):
                yield Pipeline(env, ingest, scoring, handover, receiver, receiver_out)
    finally:
        if receiver.poll() is None:
            receiver.terminate()
            receiver.wait(30)


@dataclass
class Traffic:
    """Request ``i``: every ``sql_every``-th is a demo request from a new business lead (fast-tracked to SQL);
    the rest are page views, clicks and downloads of returning private-address visitors, who never qualify."""

    sql_every: int
    tag: str
    visitors: int = 2000
    sql_emails: dict[int, str] = field(default_factory=dict)

    def body(self, i: int) -> bytes:
        if i % self.sql_every == self.sql_every // 2:
            email = f"buyer{i}.{self.tag}@firm{i % 89}.example"
            self.sql_emails[i] = email
            return json.dumps({
                "type": "demo_requested", "email": email, "properties": {"form_id": "demo"},
                "profile": {"first_name": "Ada", "company": "Firm", "job_title": "Head of Sales", "company_size": 250},
            }).encode()
        kind = ("page_viewed", "page_viewed", "email_clicked", "content_downloaded")[i % 4]
        return json.dumps({
            "type": kind, "email": f"visitor{i % self.visitors}.{self.tag}@gmail.com",
            "properties": {"page_url": f"https://leadflow.example/blog/{i % 17}"},
        }).encode()


def verify_signatures(arrivals: list[dict[str, Any]]) -> int:
    """How many webhooks carry a valid Standard Webhooks signature (checked with the independent library)."""
    from standardwebhooks import Webhook

    hook = Webhook(SECRET)
    valid = 0
    for a in arrivals:
        try:
            hook.verify(a["body"], a["headers"])
            valid += 1
        except Exception:
            continue
    return valid
