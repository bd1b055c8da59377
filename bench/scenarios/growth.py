"""``growth``: does scoring slow down as leads pile up, or as rules are added for other touchpoint types?

Both runs score the same touchpoints for the same 10,000 leads; in the second the leads table
also holds hundreds of thousands of others, inserted in random order so the touched leads are
scattered over the table and its indexes as they would be in a long-lived installation.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.core import Context, Metric, Outcome, Target
from bench.infra import TestEnv, isolated, libpq, say
from bench.records import lead_email
from bench.scenarios.drain import drain, preload
from bench.scenarios.pure import rule_growth
from leadflow_runtime.db import json_text
from leadflow_scoring.adapters.store import _state_to_row
from leadflow_scoring.domain.leads import Touchpoint
from leadflow_scoring.domain.scoring import lead_id_for, score_touchpoint
from leadflow_scoring.model_file import load_model

COLUMNS = [
    "stage", "score", "fit", "engagement", "profile", "groups", "rule_hits", "recent_hits", "rule_points", "fit_ledger",
    "touchpoint_count", "grade", "model_id", "model_hash", "created_at", "updated_at", "stage_changed_at",
]
JSON_COLUMNS = {"profile", "groups", "rule_hits", "recent_hits", "rule_points", "fit_ledger"}


def _template() -> dict[str, Any]:
    """The stored row of a lead that has viewed one page, as scoring itself would write it."""
    model = load_model()
    at = datetime.now(UTC) - timedelta(days=1)
    tp = Touchpoint("template", "page_viewed", at, "template@example.com", None)
    return _state_to_row(score_touchpoint(None, tp, model).state, model)


async def _load_leads(url: str, touched: int, total: int) -> float:
    row = _template()
    values = []
    for i, col in enumerate(COLUMNS, start=4):
        cast = "::jsonb" if col in JSON_COLUMNS else ""
        values.append(f"${i}{cast}")
    params = [json_text(row[c]) if c in JSON_COLUMNS else row[c] for c in COLUMNS]
    keys = [lead_email(n) for n in range(touched)]
    sql = f"""
        INSERT INTO scoring.leads (lead_id, lead_key, email, {", ".join(COLUMNS)})
        SELECT s.id, s.key, s.key, {", ".join(values)}
        FROM (
            SELECT unnest($1::uuid[]) AS id, unnest($2::text[]) AS key
            UNION ALL
            SELECT gen_random_uuid(), 'filler' || g || '@bulk' || (g % 997) || '.example' FROM generate_series(1, $3) AS g
        ) AS s
        ORDER BY random()
    """
    conn = await asyncpg.connect(libpq(url))
    try:
        t0 = time.perf_counter()
        await conn.execute("SET work_mem = '256MB'")
        await conn.execute(sql, [lead_id_for(k) for k in keys], keys, total - touched, *params)
        await conn.execute("VACUUM ANALYZE scoring.leads")
        took = time.perf_counter() - t0
        stored = await conn.fetchval("SELECT count(*) FROM scoring.leads")
        assert stored == total, (stored, total)
        return took
    finally:
        await conn.close()


def _run(ctx: Context, out: Outcome, env: TestEnv, *, touched: int, total: int, records: int, label: str) -> float:
    took = asyncio.run(_load_leads(env.database_url, touched, total))
    say(f"  {label}: {total:,} leads stored ({touched:,} of them get touchpoints) in {took:.1f}s")
    out.details[f"{label} leads_load_s"] = round(took, 1)
    preload(env, records, touched, seed=3)
    return drain(ctx, out, env, records, label=label).rate


def growth(ctx: Context, out: Outcome) -> None:
    touched = ctx.size(10_000, 200)
    many = ctx.size(1_000_000, 5_000)
    records = ctx.size(50_000, 1_000)
    with isolated(ctx.infra, "growth-few") as env:
        few_rate = _run(ctx, out, env, touched=touched, total=touched, records=records, label=f"{touched:,} leads stored")
    with isolated(ctx.infra, "growth-many") as env:
        many_rate = _run(ctx, out, env, touched=touched, total=many, records=records, label=f"{many:,} leads stored")
    us10, us100 = rule_growth(ctx.size(2000, 50))
    out.add(
        Metric(f"drain rate with {many:,} leads stored", many_rate, "touchpoints/s", baseline=few_rate,
               note=f"baseline: {touched:,} leads stored"),
        Metric(f"throughput kept ({many:,} vs {touched:,} leads)", 100 * many_rate / few_rate if few_rate else None, "%",
               Target(">=", 90)),
        Metric("pure scoring cost, 100 rules vs 10 (extra rules for other types)", us100 / us10 * 100, "%", Target("<=", 110),
               note=f"{us10:.1f} µs vs {us100:.1f} µs per page view"),
    )
    out.notes.append(
        f"Both runs: {records:,} touchpoints for the same {touched:,} existing leads, drained by one scoring process. "
        f"The second database also holds {many - touched:,} other leads (rows as scoring writes them), inserted in "
        f"random order and vacuumed/analysed before the drain. Rule growth: the same page view scored against a "
        f"model with 10 engagement rules and one with 100, where the 90 extra rules are for other touchpoint types "
        f"({us10:.1f} µs vs {us100:.1f} µs)."
    )
