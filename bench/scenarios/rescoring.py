"""``rescoring``: activate a changed model and time the background job that rescores every lead from its history.

The leads and their history are written straight into the scoring tables first, as scoring itself
would have left them: each lead's touchpoints are replayed under the shipped model with the domain's
own step (``replay_history``), and the lead row, its touchpoints and its ledger are copied in. A
million leads would take hours to drain through Kafka on this machine; written this way they take
minutes, and the job that is timed afterwards is the service's own.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import asyncpg
import httpx

from bench.core import Context, Measure, Metric, Outcome, Target
from bench.infra import Service, isolated, libpq, say
from bench.records import lead_email, random_touchpoint
from leadflow_runtime.db import json_text
from leadflow_scoring.adapters.store import LEAD_COLUMNS, LEDGER_INSERT, TOUCHPOINT_INSERT, _state_to_row
from leadflow_scoring.domain.leads import Touchpoint
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.simulation import replay_history
from leadflow_scoring.model_file import DEFAULT_MODEL_PATH, load_model

CHUNK = 5_000  # leads generated and copied at a time
PARTITIONS = 6
JSON_LEAD_COLUMNS = frozenset({"profile", "groups", "rule_hits", "recent_hits", "rule_points", "fit_ledger"})


def changed_model() -> str:
    """The shipped model with a lower MQL threshold and a heavier webinar: stages move for some leads."""
    text = DEFAULT_MODEL_PATH.read_text()
    assert "  mql: 65\n" in text and "    points: 25\n" in text
    return text.replace("  mql: 65\n", "  mql: 60\n", 1).replace("    points: 25\n", "    points: 30\n", 1)


@lru_cache(maxsize=1)
def _model() -> ScoringModel:
    return load_model()


def _history(rng: random.Random, n: int, start: datetime) -> list[Touchpoint]:
    """One to five touchpoints (three on average) of lead ``n`` within the last two hours, in time order:
    the same mix of types, pages, forms and profiles as the drain's records."""
    email = lead_email(n)
    offsets = sorted(rng.random() * 7200 for _ in range(rng.randint(1, 5)))
    tps = []
    for off in offsets:
        event_id, kind, props, profile = random_touchpoint(rng)
        tps.append(Touchpoint(event_id, kind, start + timedelta(seconds=off), email, None,
                              MappingProxyType(profile), MappingProxyType(props)))
    return tps


def _chunk_rows(first: int, count: int, seed: int, start: datetime) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Rows of leads ``first`` .. ``first + count - 1`` in the column orders of the three COPYs."""
    model = _model()
    rng = random.Random(seed * 1_000_003 + first)
    leads: list[tuple] = []
    tps: list[tuple] = []
    ledger: list[tuple] = []
    offset = first * 5  # per partition, increasing with time within a lead: the history's order
    for n in range(first, first + count):
        history = _history(rng, n, start)
        replayed = replay_history(history, model, datetime.now(UTC))
        assert replayed is not None
        row = _state_to_row(replayed.state, model)
        leads.append(tuple(json_text(row[c]) if c in JSON_LEAD_COLUMNS else row[c] for c in LEAD_COLUMNS))
        lead_id = replayed.state.lead_id
        for tp in history:
            offset += 1
            tps.append((tp.event_id, lead_id, tp.type, tp.occurred_at, tp.occurred_at, None, json_text(tp.profile),
                        json_text(tp.properties), n % PARTITIONS, offset))
        ledger += [(lead_id, e.touchpoint_id, e.rule_id, e.dimension, e.points, e.reason, e.capped, model.hash, when)
                   for e, when in replayed.ledger]
    return leads, tps, ledger


def _chunks(leads: int) -> Iterator[tuple[int, int]]:
    for first in range(0, leads, CHUNK):
        yield first, min(CHUNK, leads - first)


async def _load(url: str, leads: int, seed: int) -> dict[str, Any]:
    """Generate in a second process while this one copies the previous chunk in."""
    start = datetime.now(UTC) - timedelta(hours=2)  # within the last two hours: no decay review fires
    conn = await asyncpg.connect(libpq(url))
    loop = asyncio.get_running_loop()
    totals = {"leads": 0, "touchpoints": 0, "ledger_lines": 0}
    t0 = last = time.perf_counter()
    try:
        with ProcessPoolExecutor(max_workers=1) as pool:
            chunks = list(_chunks(leads))
            pending = loop.run_in_executor(pool, _chunk_rows, *chunks[0], seed, start)
            for i in range(len(chunks)):
                lead_rows, tp_rows, ledger_rows = await pending
                if i + 1 < len(chunks):
                    pending = loop.run_in_executor(pool, _chunk_rows, *chunks[i + 1], seed, start)
                await conn.copy_records_to_table("leads", schema_name="scoring", columns=LEAD_COLUMNS, records=lead_rows)
                await conn.copy_records_to_table("touchpoints", schema_name="scoring", columns=TOUCHPOINT_INSERT.columns,
                                                 records=tp_rows)
                await conn.copy_records_to_table("score_ledger", schema_name="scoring", columns=LEDGER_INSERT.columns,
                                                 records=ledger_rows)
                totals["leads"] += len(lead_rows)
                totals["touchpoints"] += len(tp_rows)
                totals["ledger_lines"] += len(ledger_rows)
                if time.perf_counter() - last > 10:
                    last = time.perf_counter()
                    say(f"  stored {totals['leads']:,} of {leads:,} leads with {totals['touchpoints']:,} touchpoints "
                        f"({totals['leads'] / (last - t0):,.0f} leads/s)")
        for table in ("leads", "touchpoints", "score_ledger", "lead_search"):
            await conn.execute(f"VACUUM ANALYZE scoring.{table}")
        stored = await conn.fetchval("SELECT count(*) FROM scoring.leads")
        assert stored == leads, (stored, leads)
    finally:
        await conn.close()
    totals["seconds"] = round(time.perf_counter() - t0, 1)
    return totals


def rescoring(ctx: Context, out: Outcome) -> None:
    leads = ctx.rescoring_leads or ctx.size(1_000_000, 60)
    timeout = ctx.size(3600, 120)
    job: dict[str, Any] = {}

    async def activate(scoring: Service) -> None:
        async with httpx.AsyncClient(base_url=scoring.url, timeout=60) as client:
            t0 = time.perf_counter()
            r = await client.post("/v1/models/activate", json={"model": changed_model()})
            r.raise_for_status()
            job_id = r.json()["job_id"]
            last = t0
            while True:
                view = (await client.get(f"/v1/models/jobs/{job_id}")).json()
                if view["status"] != "running":
                    break
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError(f"rescoring job still running after {timeout}s: {view}")
                if time.perf_counter() - last > 10:
                    last = time.perf_counter()
                    say(f"  rescoring: {view['done']:,} of {view['total']:,} leads "
                        f"({view['done'] / (last - t0):,.0f} leads/s)")
                await asyncio.sleep(0.2)
            job.update(view, seconds=time.perf_counter() - t0)

    with isolated(ctx.infra, "rescoring") as env:
        loaded = asyncio.run(_load(env.database_url, leads, seed=4))
        out.details["stored"] = loaded
        say(f"  stored {loaded['leads']:,} leads, {loaded['touchpoints']:,} touchpoints and "
            f"{loaded['ledger_lines']:,} ledger lines in {loaded['seconds']:.0f}s")
        scoring = Service("scoring", env.env, name="scoring-rescoring")
        try:
            scoring.start(wait_ready=True)
            with Measure(out, "rescoring job", {"scoring": [scoring.pid]}):
                asyncio.run(activate(scoring))
        finally:
            scoring.stop_or_kill()
    if job.get("status") != "done":
        raise RuntimeError(f"rescoring job ended {job.get('status')}: {job}")
    if job["total"] != leads or job["done"] != leads:
        raise AssertionError(f"{leads:,} leads stored but the job rescored {job['done']:,} of {job['total']:,}")
    seconds = job["seconds"]
    touchpoints = loaded["touchpoints"]
    out.details["job"] = job
    out.add(
        Metric("leads rescored per second", job["total"] / seconds, "leads/s"),
        Metric("touchpoints replayed per second", touchpoints / seconds, "touchpoints/s", Target(">=", 50_000)),
        Metric("time to rescore all leads", seconds, "s"),
        Metric("leads whose stage changed", float(job["changed"]), ""),
    )
    out.notes.append(
        f"{leads:,} leads with {touchpoints:,} touchpoints ({touchpoints / leads:.1f} each, 1 to 5) and "
        f"{loaded['ledger_lines']:,} ledger lines stored as scoring leaves them (each history replayed under the shipped "
        f"model, copied in, {loaded['seconds']:.0f} s), then one scoring process started and POST /v1/models/activate "
        f"with the shipped model changed (MQL at 60 instead of 65, webinar +30 instead of +25); timed from the POST until "
        f"GET /v1/models/jobs/<id> said done ({job['total']:,} leads, {job['changed']:,} changed stage). The job "
        "replays each lead's stored history and rewrites lead, ledger and stage history, two pages of 500 leads in flight."
    )
