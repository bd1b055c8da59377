"""``rescoring``: activate a changed model and time the background job that rescores every lead from its history."""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.core import Context, Metric, Outcome, Target
from bench.infra import Service, isolated, say
from bench.scenarios.drain import drain, preload
from leadflow_scoring.model_file import DEFAULT_MODEL_PATH


def changed_model() -> str:
    """The shipped model with a lower MQL threshold and a heavier webinar: stages move for some leads."""
    text = DEFAULT_MODEL_PATH.read_text()
    assert "  mql: 65\n" in text and "    points: 25\n" in text
    return text.replace("  mql: 65\n", "  mql: 60\n", 1).replace("    points: 25\n", "    points: 30\n", 1)


def rescoring(ctx: Context, out: Outcome) -> None:
    n, leads = ctx.size((100_000, 10_000), (600, 60))
    timeout = ctx.size(900, 60)
    job: dict = {}

    async def activate(scoring: Service) -> None:
        async with httpx.AsyncClient(base_url=scoring.url, timeout=30) as client:
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
                    say(f"  rescoring: {view['done']:,} of {view['total']:,} leads")
                await asyncio.sleep(0.2)
            job.update(view, seconds=time.perf_counter() - t0)

    with isolated(ctx.infra, "rescoring") as env:
        out.details["preload"] = preload(env, n, leads, seed=4)
        drain(ctx, out, env, n, label="history drained", then=activate)
    if job.get("status") != "done":
        raise RuntimeError(f"rescoring job ended {job.get('status')}: {job}")
    seconds = job["seconds"]
    out.details["job"] = job
    out.add(
        Metric("leads rescored per second", job["total"] / seconds, "leads/s"),
        Metric("touchpoints replayed per second", n / seconds, "touchpoints/s", Target(">=", 50_000)),
        Metric("time to rescore all leads", seconds, "s"),
        Metric("leads whose stage changed", float(job["changed"]), ""),
    )
    out.notes.append(
        f"{n:,} touchpoints over {leads:,} leads applied by one scoring process, then POST /v1/models/activate with "
        f"the shipped model changed (MQL at 60 instead of 65, webinar +30 instead of +25); timed from the POST until "
        f"GET /v1/models/jobs/<id> said done ({job['total']:,} leads, {job['changed']:,} changed stage). "
        "The job replays each lead's stored history and rewrites lead, ledger and stage history, two pages of 500 "
        "leads in flight."
    )
