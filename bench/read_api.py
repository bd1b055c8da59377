"""``read-api``: the lead list and the funnel over a big database, timed over HTTP against the real scoring app.

    .venv/bin/python -m bench.read_api [--smoke | --leads N] [--keep]

Fills a throwaway database (created and migrated like a test database) inside PostgreSQL with
``INSERT ... SELECT generate_series``: 1,000,000 leads with about 10,000,000 touchpoints and
their stage history (smoke: 10,000 / about 100,000); the SQL and SAL leads (12 %) are assigned to one of
four sales teams of five reps each, as handover's assignment events would leave them. The history goes in through the normal
``stage_history`` trigger, so the daily funnel aggregates are built the way production builds
them. Then a scoring process serves the database and every case is requested repeatedly:
p50 / p95 of the wall time of the HTTP request, target < 200 ms. Then what the read side costs the
writer (lead updates with and without the new indexes, stage changes with and without the funnel
trigger, each in a rolled-back transaction). Last, the trigram index is dropped and the free-text
cases are measured again, to show what the index buys.

``run(smoke)`` returns a plain dict; ``scenario(ctx, out)`` adapts it to ``bench.core``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.support.processes import ServiceProcess
from tests.support.stack import TestEnv, create_test_env, drop_test_env, libpq, start_infra

TARGET_MS = 200.0
ADMIN_KEY = "bench-read-api-admin-key-0123456789"
FULL = {"leads": 1_000_000, "repeats": 40}
SMOKE = {"leads": 10_000, "repeats": 8}

GENERATOR = r"""
CREATE SCHEMA gen;
CREATE FUNCTION gen.r(i bigint, salt bigint) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (hashint8extended(i, salt) & 9007199254740991)::float8 / 9007199254740992.0 $$;
CREATE FUNCTION gen.pick(a text[], x float8) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT a[1 + floor(x * array_length(a, 1))::int] $$;
CREATE UNLOGGED TABLE gen.leads AS
WITH base AS (
    SELECT i, gen.r(i, 1) AS rc, gen.r(i, 2) AS rs, gen.r(i, 3) AS ru, gen.r(i, 4) AS rf, gen.r(i, 5) AS re,
           gen.r(i, 6) AS rn, gen.r(i, 7) AS rl, gen.r(i, 8) AS rk, gen.r(i, 9) AS rt, gen.r(i, 10) AS rm,
           floor(gen.r(i, 14) * 4)::int AS team_no, floor(gen.r(i, 15) * 5)::int AS member_no
    FROM generate_series(1, {leads}) AS i
), shaped AS (
    SELECT *, $1::timestamptz - make_interval(secs => rc * 365 * 86400) AS created_at,
           CASE WHEN rs < 0.70 THEN 'lead' WHEN rs < 0.85 THEN 'mql' WHEN rs < 0.95 THEN 'sql'
                WHEN rs < 0.97 THEN 'sal' ELSE 'disqualified' END AS stage,
           gen.pick(ARRAY['Anna','Ben','Carla','David','Eva','Felix','Greta','Hannah','Jonas','Julia','Klaus','Lena',
                          'Lukas','Maria','Max','Mia','Noah','Olga','Paul','Sophie','Thomas','Ada','Lars','Ingrid',
                          'Pierre','Chloé','Marco','Giulia','Jan','Zofia','Emma','Liam','Olivia','Ahmet','Elif'], rn) AS first_name,
           CASE WHEN rl < 0.001 THEN 'Lovelace' ELSE
           gen.pick(ARRAY['Müller','Schmidt','Schneider','Fischer','Weber','Meyer','Wagner','Becker','Schulz','Hoffmann',
                          'Koch','Richter','Klein','Wolf','Schröder','Neumann','Schwarz','Braun','Zimmermann','Krüger',
                          'Hartmann','Lange','Werner','Krause','Lehmann','Brandt','Jensen','Laurent','Rossi','Nowak',
                          'Smith','Jones','Dubois','Yilmaz','Kaya','Novak','Larsen','Berg','Vogel','Frank'], rl) END AS last_name,
           gen.pick(ARRAY['Hofmann','Nordlicht','Alpen','Rhein','Elbe','Bavaria','Hansa','Berliner','Kölner','Sachsen',
                          'Lumière','Atlas','Vega','Orion','Delta','Falken','Adler','Löwen','Stern','Blau'], rk)
             || ' ' || gen.pick(ARRAY['Maschinenbau','Logistik','Energie','Software','Medizintechnik','Chemie','Bau',
                                      'Textil','Versicherung','Analytics'], gen.r(i, 11))
             || ' ' || (1 + floor(gen.r(i, 12) * 400))::int
             || ' ' || gen.pick(ARRAY['GmbH','AG','SE','KG','SAS','A/S','Ltd','Inc'], gen.r(i, 13)) AS company,
           1 + floor(rt * 19)::int AS tp_count
    FROM base
), scored AS (
    SELECT *,
           CASE stage WHEN 'lead' THEN floor(rf * 65) WHEN 'mql' THEN 65 + floor(rf * 35)
                      WHEN 'disqualified' THEN floor(rf * 40) ELSE 100 + floor(rf * 100) END::int AS score,
           created_at + (($1::timestamptz - created_at) * ru) AS updated_at
    FROM shaped
)
SELECT i, md5('bench-lead-' || i)::uuid AS lead_id, stage, score, least(score, floor(re * 45)::int) AS fit,
       score - least(score, floor(re * 45)::int) AS engagement,
       lower(translate(first_name || '.' || last_name, 'äöüéÄÖÜÉ', 'aoueAOUE')) || '.' || i || '@'
           || lower(translate(split_part(company, ' ', 1), 'äöüéÄÖÜÉ', 'aoueAOUE')) || '.example' AS email,
       first_name, last_name, company, tp_count, created_at, updated_at,
       created_at + (updated_at - created_at) * rm * 0.5 AS mql_at,
       created_at + (updated_at - created_at) * (0.5 + rm * 0.5) AS sql_at,
       (stage = 'lead' AND rm < 0.1) AS recycled,
       CASE WHEN stage IN ('sql', 'sal') THEN (ARRAY['enterprise-dach','mid-market','inbound','nordics'])[1 + team_no] END
         AS assigned_team,
       CASE WHEN stage IN ('sql', 'sal') THEN
         (ARRAY['anna','jonas','mia','felix','greta', 'paul','sophie','max','julia','lukas',
                'lena','omar','eva','noah','klara', 'ingrid','lars','astrid','nils','freja'])[1 + team_no * 5 + member_no] END
         AS assigned_member
FROM scored;
"""

LOAD_LEADS = r"""
INSERT INTO scoring.leads (lead_id, lead_key, email, stage, score, fit, engagement, profile, touchpoint_count, grade,
                           model_id, model_hash, created_at, updated_at, stage_changed_at,
                           assigned_team, assigned_member, assigned_at)
SELECT lead_id, email, email, stage, score, fit, engagement,
       jsonb_build_object('first_name', first_name, 'last_name', last_name, 'company', company), tp_count,
       CASE WHEN fit >= 30 THEN 'A' WHEN fit >= 20 THEN 'B' WHEN fit >= 10 THEN 'C' ELSE 'D' END
         || CASE WHEN engagement >= 60 THEN '1' WHEN engagement >= 30 THEN '2' ELSE '3' END,
       'default@1', 'bench', created_at, updated_at, greatest(created_at, mql_at),
       assigned_team, assigned_member, CASE WHEN assigned_team IS NOT NULL THEN sql_at + interval '1 second' END
FROM gen.leads
"""

LOAD_TOUCHPOINTS = r"""
INSERT INTO scoring.touchpoints (event_id, lead_id, type, occurred_at, received_at, source_id, properties,
                                 kafka_partition, kafka_offset)
SELECT 'bench-tp-' || l.i || '-' || k, l.lead_id,
       gen.pick(ARRAY['page_viewed','page_viewed','page_viewed','email_opened','email_clicked','form_submitted',
                      'content_downloaded','webinar_attended','newsletter_subscribed','demo_requested'], gen.r(l.i * 32 + k, 20)),
       l.created_at + (l.updated_at - l.created_at) * ((k - 1)::float8 / l.tp_count),
       l.created_at + (l.updated_at - l.created_at) * ((k - 1)::float8 / l.tp_count),
       CASE WHEN s < 0.0001 THEN 'hannover-messe-2026' WHEN s < 0.45 THEN 'website' WHEN s < 0.65 THEN 'hubspot'
            WHEN s < 0.80 THEN 'typeform' WHEN s < 0.90 THEN 'webflow' WHEN s < 0.97 THEN 'linkedin-ads'
            WHEN s < 0.995 THEN 'trade-fair-import' ELSE 'partner-referral' END,
       '{{}}'::jsonb, (l.i % 6)::int, l.i * 32 + k
FROM gen.leads l, generate_series(1, l.tp_count) AS k, LATERAL (SELECT gen.r(l.i * 32 + k, 21) AS s) AS src
WHERE l.i % {parts} = {part}
"""

# One statement per step, as scoring writes them in batches: the trigger folds each into the aggregates.
HISTORY_STEPS = [
    ("NULL", "'lead'", "created_at", "TRUE"),
    ("'lead'", "'mql'", "mql_at", "stage IN ('mql', 'sql', 'sal') OR recycled"),
    ("'mql'", "'lead'", "sql_at", "recycled"),
    ("'mql'", "'sql'", "sql_at", "stage IN ('sql', 'sal')"),
    ("'sql'", "'sal'", "updated_at", "stage = 'sal'"),
    ("'lead'", "'disqualified'", "updated_at", "stage = 'disqualified'"),
]
LOAD_HISTORY = r"""
INSERT INTO scoring.stage_history (event_id, lead_id, from_stage, to_stage, cause, reason, score, fit, engagement,
                                   model_hash, occurred_at)
SELECT 'bench-sh-' || i || '-' || {step}, lead_id, {from_stage}, {to_stage}, 'touchpoint', 'bench', score, fit, engagement,
       'bench', {at}
FROM gen.leads WHERE {where}
"""


def _cases(now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    week_ago = (now - timedelta(days=7)).isoformat()
    today = now.date()
    return [
        ("list: newest activity first", "/v1/leads", {"limit": 50}),
        ("list: stage=sql by score desc", "/v1/leads", {"stage": "sql", "sort": "score", "limit": 50}),
        ("list: grade A + score 40-90, updated desc", "/v1/leads", {"grade": "A", "score_min": 40, "score_max": 90, "limit": 50}),
        ("list: grade A1 by score asc", "/v1/leads", {"grade": "A1", "sort": "score", "order": "asc", "limit": 50}),
        ("list: stage=lead + score>=90 (none; walk abandoned)", "/v1/leads", {"stage": "lead", "score_min": 90, "sort": "created_at", "limit": 50}),
        ("list: updated in last 7 days, created asc", "/v1/leads",
         {"updated_since": week_ago, "sort": "created_at", "order": "asc", "limit": 50}),
        ("list: source=partner-referral + stage=mql", "/v1/leads", {"source": "partner-referral", "stage": "mql", "limit": 50}),
        ("list: rare source hannover-messe-2026", "/v1/leads", {"source": "hannover-messe-2026", "limit": 50}),
        ("list: q=lovelace (rare name)", "/v1/leads", {"q": "lovelace", "limit": 50}),
        ("list: q=müller gmbh (common words)", "/v1/leads", {"q": "müller gmbh", "limit": 50}),
        ("list: q=zzyzx (no match)", "/v1/leads", {"q": "zzyzx", "limit": 50}),
        ("list: q=gmbh (an eighth of all leads)", "/v1/leads", {"q": "gmbh", "limit": 50}),
        ("list: q=gmbh + stage=sql by score", "/v1/leads", {"q": "gmbh", "stage": "sql", "sort": "score", "limit": 50}),
        ("list: team=inbound (3 %), newest activity first", "/v1/leads", {"team": "inbound", "limit": 50}),
        ("list: rep=lena (0.6 %), newest activity first", "/v1/leads", {"rep": "lena", "limit": 50}),
        ("list: team=inbound + rep=lena + stage=sal", "/v1/leads", {"team": "inbound", "rep": "lena", "stage": "sal", "limit": 50}),
        ("list: team=inbound by score ascending", "/v1/leads", {"team": "inbound", "sort": "score", "order": "asc", "limit": 50}),
        ("list: rep=lena by score ascending (walk abandoned)", "/v1/leads",
         {"rep": "lena", "sort": "score", "order": "asc", "limit": 50}),
        ("list: two teams by creation", "/v1/leads", {"team": ["inbound", "nordics"], "sort": "created_at", "limit": 50}),
        ("funnel: 90 days by day", "/v1/funnel", {"from": str(today - timedelta(days=89)), "to": str(today), "by": "day"}),
        ("funnel: 90 days by week", "/v1/funnel", {"from": str(today - timedelta(days=89)), "to": str(today), "by": "week"}),
        ("funnel: 365 days by week", "/v1/funnel", {"from": str(today - timedelta(days=364)), "to": str(today), "by": "week"}),
    ]


def _say(message: str) -> None:
    print(f"[read-api {time.strftime('%H:%M:%S')}] {message}", flush=True)


async def load(database_url: str, leads: int, now: datetime) -> dict[str, Any]:
    """Fill the database; returns row counts and how long each step took."""
    conn = await asyncpg.connect(libpq(database_url))
    timings: dict[str, float] = {}

    async def step(name: str, sql: str, *args: Any) -> None:
        t0 = time.perf_counter()
        await conn.execute(sql, *args)
        timings[name] = round(time.perf_counter() - t0, 1)
        _say(f"  {name}: {timings[name]} s")

    try:
        await conn.execute("SET maintenance_work_mem = '512MB'; SET work_mem = '256MB'")
        await step("generate", GENERATOR.format(leads=leads).replace("$1::timestamptz", f"'{now.isoformat()}'::timestamptz"))
        await step("leads", LOAD_LEADS)
        parts = max(1, leads // 250_000)  # several statements keep each transaction's memory and WAL burst modest
        for part in range(parts):
            await step(f"touchpoints {part + 1}/{parts}", LOAD_TOUCHPOINTS.format(parts=parts, part=part))
        for n, (from_stage, to_stage, at, where) in enumerate(HISTORY_STEPS):
            change = f"{from_stage} -> {to_stage}".replace("'", "")
            await step(f"history {change}", LOAD_HISTORY.format(step=n, from_stage=from_stage, to_stage=to_stage, at=at, where=where))
        await conn.execute("DROP SCHEMA gen CASCADE")
        t0 = time.perf_counter()
        for table in ("leads", "touchpoints", "stage_history", "stage_daily_counts", "stage_cohort_counts", "stage_time_buckets"):
            await conn.execute(f"VACUUM (ANALYZE) scoring.{table}")
        timings["vacuum analyze"] = round(time.perf_counter() - t0, 1)
        counts = {t: await conn.fetchval(f"SELECT count(*) FROM scoring.{t}")
                  for t in ("leads", "touchpoints", "stage_history", "stage_daily_counts", "stage_time_buckets")}
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    return {"rows": counts, "database_size": size, "load_seconds": timings}


def _time(client: httpx.Client, path: str, params: dict[str, Any], repeats: int) -> dict[str, Any]:
    for _ in range(3):  # warm: connection pool, plan, pages in cache
        r = client.get(path, params=params)
        r.raise_for_status()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = client.get(path, params=params)
        samples.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    body = r.json()
    samples.sort()
    p95 = samples[min(len(samples) - 1, max(0, round(0.95 * len(samples)) - 1))]
    rows = len(body["items"]) if "items" in body else len(body.get("periods", []))
    return {"p50_ms": round(statistics.median(samples), 1), "p95_ms": round(p95, 1), "max_ms": round(samples[-1], 1),
            "calls": repeats, "rows": rows, "passed": p95 < TARGET_MS}


def _measure(base_url: str, cases: list[tuple[str, str, dict[str, Any]]], repeats: int) -> dict[str, Any]:
    out = {}
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        for name, path, params in cases:
            out[name] = _time(client, path, params, repeats)
            _say(f"  {name}: p50 {out[name]['p50_ms']} ms, p95 {out[name]['p95_ms']} ms ({out[name]['rows']} rows)")
        # paging deeper: 10 pages of the stage filter, each page through the previous page's cursor
        params: dict[str, Any] = {"stage": "mql", "limit": 50}
        page_ms = []
        for _ in range(10):
            t0 = time.perf_counter()
            body = client.get("/v1/leads", params=params).raise_for_status().json()
            page_ms.append((time.perf_counter() - t0) * 1000)
            params["cursor"] = body["next_cursor"]
        out["list: stage=mql, pages 1-10 by cursor"] = {
            "p50_ms": round(statistics.median(page_ms), 1), "p95_ms": round(max(page_ms), 1), "max_ms": round(max(page_ms), 1),
            "calls": len(page_ms), "rows": 50, "passed": max(page_ms) < TARGET_MS,
        }
    return out


def run(smoke: bool, leads: int | None = None, keep: bool = False) -> dict[str, Any]:
    size = {**(SMOKE if smoke else FULL), **({"leads": leads} if leads else {})}
    infra = start_infra()
    env: TestEnv = create_test_env(infra, "readapi")
    now = datetime.now(UTC).replace(microsecond=0)
    result: dict[str, Any] = {"scenario": "read-api", "mode": "smoke" if smoke else "full", "target_ms": TARGET_MS,
                              "leads": size["leads"], "started_at": now.isoformat()}
    scoring = None
    try:
        _say(f"loading {size['leads']:,} leads into {env.database_url.rsplit('/', 1)[-1]}")
        result.update(asyncio.run(load(env.database_url, size["leads"], now)))
        scoring = ServiceProcess("scoring", {**env.env, "LEADFLOW_SCORING_ADMIN_KEY": ADMIN_KEY}, name="readapi-scoring").start()
        _say(f"measuring over HTTP at {scoring.url} ({size['repeats']} calls per case)")
        cases = _cases(now)
        result["cases"] = _measure(scoring.url, cases, size["repeats"])
        _say("what the read indexes and the funnel trigger cost the writer")
        result["write_cost"] = asyncio.run(_write_cost(env.database_url, min(10_000, size["leads"] // 5)))
        _say(f"  {result['write_cost']}")
        _say("dropping the trigram index to see what it buys")
        asyncio.run(_drop_trigram(env.database_url))
        search = [c for c in cases if c[0].startswith("list: q=")]
        with httpx.Client(base_url=scoring.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120) as client:
            result["without_trigram_index"] = {
                name: _time(client, path, params, max(3, size["repeats"] // 4)) for name, path, params in search
            }
        for name, m in result["without_trigram_index"].items():
            _say(f"  {name} (no trigram index): p50 {m['p50_ms']} ms, p95 {m['p95_ms']} ms")
        result["passed"] = all(m["passed"] for m in result["cases"].values())
    finally:
        if scoring is not None:
            scoring.stop()
        if keep:
            _say(f"kept the database: {env.database_url}")
        else:
            drop_test_env(env)
    return result


# Taken away in this order (in a rolled-back transaction) to see what each costs the writer.
WRITE_COST_STEPS = [
    ("search triggers", ["ALTER TABLE scoring.leads DISABLE TRIGGER leads_search_update",
                         "ALTER TABLE scoring.leads DISABLE TRIGGER leads_search_insert"]),
    ("team/rep", ["DROP INDEX scoring.ix_leads_team_updated_id", "DROP INDEX scoring.ix_leads_team_score_id",
                  "DROP INDEX scoring.ix_leads_member_updated_id"]),
    ("stage/grade + score", ["DROP INDEX scoring.ix_leads_stage_score_id", "DROP INDEX scoring.ix_leads_grade_score_id"]),
    ("sort keysets", ["DROP INDEX scoring.ix_leads_updated_id", "DROP INDEX scoring.ix_leads_created_id",
                      "DROP INDEX scoring.ix_leads_score_id"]),
]
TOUCH_LEADS = """
UPDATE scoring.leads SET updated_at = updated_at + interval '1 second', score = score + 1, engagement = engagement + 1
WHERE lead_id IN (SELECT lead_id FROM scoring.leads TABLESAMPLE SYSTEM (5) LIMIT {n})
"""
NEW_CHANGES = """
INSERT INTO scoring.stage_history (event_id, lead_id, from_stage, to_stage, cause, reason, score, fit, engagement,
                                   model_hash, occurred_at)
SELECT 'write-cost-{tag}-' || lead_id, lead_id, 'lead', 'mql', 'touchpoint', 'bench', 70, 10, 60, 'bench', now()
FROM scoring.leads TABLESAMPLE SYSTEM (5) LIMIT {n}
"""


async def _write_cost(database_url: str, n: int) -> dict[str, Any]:
    """Milliseconds per 1,000 rows for what scoring writes: score updates of leads (with and without the read
    indexes and the search triggers), stage changes in batches of 200 (with and without the funnel trigger)."""
    conn = await asyncpg.connect(libpq(database_url))
    out: dict[str, Any] = {}
    try:
        out["lead_update_ms_per_1000"] = round(await _rolled_back(conn, TOUCH_LEADS.format(n=n)) * 1000 / n, 1)
        out["stage_changes_ms_per_1000"] = round(await _rolled_back(conn, NEW_CHANGES.format(n=200, tag="{tag}")) * 5, 1)
        await conn.execute("ALTER TABLE scoring.stage_history DISABLE TRIGGER stage_history_fold")
        out["stage_changes_ms_per_1000_without_trigger"] = round(await _rolled_back(conn, NEW_CHANGES.format(n=200, tag="{tag}")) * 5, 1)
        await conn.execute("ALTER TABLE scoring.stage_history ENABLE TRIGGER stage_history_fold")
        async with conn.transaction():
            dropped = []
            for group, statements in WRITE_COST_STEPS:
                for statement in statements:
                    await conn.execute(statement)
                dropped.append(group)
                samples = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    await conn.execute(TOUCH_LEADS.format(n=n))
                    samples.append((time.perf_counter() - t0) * 1000)
                out[f"lead_update_ms_per_1000_without {' + '.join(dropped)}"] = round(statistics.median(samples) * 1000 / n, 1)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await conn.close()
    return out


class _Rollback(Exception):
    pass


async def _rolled_back(conn: asyncpg.Connection, sql: str, repeats: int = 5) -> float:
    """Median milliseconds of ``sql``, each run in a transaction that is rolled back."""
    samples = []
    for i in range(repeats):
        try:
            async with conn.transaction():
                t0 = time.perf_counter()
                await conn.execute(sql.replace("{tag}", str(i)))
                samples.append((time.perf_counter() - t0) * 1000)
                raise _Rollback
        except _Rollback:
            pass
    return statistics.median(samples)


async def _drop_trigram(database_url: str) -> None:
    conn = await asyncpg.connect(libpq(database_url))
    try:
        await conn.execute("DROP INDEX scoring.ix_lead_search_trgm")
    finally:
        await conn.close()


def scenario(ctx: Any, out: Any) -> None:
    """``bench.core`` adapter: one metric (p95, ms, target < 200) per case."""
    from bench.core import Metric, Target

    result = run(ctx.smoke)
    for name, m in result["cases"].items():
        out.add(Metric(f"{name} p95", m["p95_ms"], "ms", Target("<", TARGET_MS), note=f"p50 {m['p50_ms']} ms"))
    for name, m in result.get("without_trigram_index", {}).items():
        out.add(Metric(f"{name} p95 without trigram index", m["p95_ms"], "ms"))
    out.details["read_api"] = {k: v for k, v in result.items() if k not in ("cases",)}
    out.notes.append(f"{result['rows']['leads']:,} leads, {result['rows']['touchpoints']:,} touchpoints, "
                     f"{result['rows']['stage_history']:,} stage changes; database {result['database_size']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.read_api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="10,000 leads instead of 1,000,000")
    parser.add_argument("--leads", type=int, default=None, help="another number of leads (touchpoints: about 10 per lead)")
    parser.add_argument("--keep", action="store_true", help="keep the database (to study plans); drop it yourself")
    args = parser.parse_args(argv)
    result = run(args.smoke, args.leads, args.keep)
    print(json.dumps(result, indent=2, default=str))
    return 0 if result.get("passed") else 1


if __name__ == "__main__":
    raise SystemExit(main())
