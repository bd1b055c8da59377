"""The lead list, the funnel and the dashboard's access rules, on the real PostgreSQL.

Leads, touchpoints and stage changes are written straight into a migrated test database, so
every expectation is computed here from the same rows: filters and keyset pages against a
Python sort, funnel figures against the raw stage history (the aggregates are built by the
trigger of migration 0006, and by its backfill).
"""

from __future__ import annotations

import asyncio
import base64
import math
import random
import subprocess
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, insert, select, text

from leadflow_runtime.db import make_engine
from leadflow_runtime.migrations import upgrade
from leadflow_scoring import funnel as funnel_module
from leadflow_scoring import lead_search
from leadflow_scoring.adapters.tables import leads, stage_history, touchpoints
from leadflow_scoring.app import create_app
from leadflow_scoring.cli import MIGRATIONS
from leadflow_scoring.dashboard import session
from leadflow_scoring.settings import ScoringSettings
from tests.support.stack import libpq

pytestmark = pytest.mark.integration

KEY = "read-api-test-admin-key-8f3a9c2e"
T0 = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)  # a Monday
FIRST = ["Ada", "Bob", "Carla", "Dan", "Eve", "Jürgen", "Sophie", "Lars"]
LAST = ["Lovelace", "Müller", "Schmidt", "Jensen", "Laurent", "Brandt"]
COMPANIES = ["Acme Analytics GmbH", "Hofmann Maschinenbau GmbH", "Transports Lumière SAS", "Nordlicht Energi A/S", None]
STAGES = ["lead", "lead", "lead", "mql", "mql", "sql", "sal", "disqualified"]


def _lead_rows(n: int = 64) -> list[dict]:
    rnd = random.Random(7)
    rows = []
    tied = T0 + timedelta(days=20)
    for i in range(n):
        first, last, company = FIRST[i % len(FIRST)], LAST[(i // 3) % len(LAST)], COMPANIES[i % len(COMPANIES)]
        fit = rnd.randrange(0, 45)
        score = fit + rnd.randrange(0, 120) if i % 9 else 77  # a run of equal scores
        created = T0 + timedelta(hours=7 * i)
        updated = tied if i % 8 == 0 else created + timedelta(hours=rnd.randrange(1, 400))  # ties on updated_at
        profile = {"first_name": first, "last_name": last, **({"company": company} if company else {})}
        email = None if i == 5 else f"{first.lower().replace('ü', 'ue')}.{i}@{(company or 'gmail com').split()[0].lower()}.example"
        rows.append({
            "lead_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)), "lead_key": email or f"anon:visitor-{i}",
            "email": email, "anonymous_id": None if email else f"visitor-{i}", "stage": STAGES[i % len(STAGES)],
            "score": score, "fit": fit, "engagement": score - fit, "profile": profile, "touchpoint_count": 1 + i % 3,
            "grade": "ABCD"[i % 4] + "123"[i % 3], "model_id": "default@1", "model_hash": "test",
            "created_at": created, "updated_at": updated, "stage_changed_at": created,
        })
    return rows


def _touchpoint_rows(lead_rows: list[dict]) -> list[dict]:
    out = []
    for i, lead in enumerate(lead_rows):
        for k in range(1 + i % 3):
            source = ["web", "fair", None][(i + k) % 3] if i % 4 else "partner"
            out.append({
                "event_id": f"tp-{i}-{k}", "lead_id": lead["lead_id"], "type": "page_viewed",
                "occurred_at": lead["created_at"] + timedelta(minutes=k), "received_at": lead["created_at"],
                "source_id": source, "kafka_partition": 0, "kafka_offset": i * 10 + k,
            })
    return out


def _history_statements(lead_rows: list[dict]) -> list[list[dict]]:
    """Stage changes grouped as the inserting statements: one big statement, then smaller ones, some single rows."""
    def change(lead: dict, n: int, from_stage: str | None, to_stage: str, at: datetime) -> dict:
        return {"event_id": f"sh-{lead['lead_id']}-{n}", "lead_id": lead["lead_id"], "from_stage": from_stage,
                "to_stage": to_stage, "cause": "touchpoint", "reason": "test", "score": lead["score"], "fit": lead["fit"],
                "engagement": lead["engagement"], "model_hash": "test", "occurred_at": at}

    first = [change(lead, 0, None, "lead", lead["created_at"]) for lead in lead_rows]
    later: list[list[dict]] = []
    for i, lead in enumerate(lead_rows):
        c = lead["created_at"]
        if lead["stage"] in ("mql", "sql", "sal") or i % 10 == 1:
            steps = [change(lead, 1, "lead", "mql", c + timedelta(hours=3 + 5 * i, minutes=i))]
            if i % 10 == 1:  # recycled and back: the second MQL entry is not a first entry
                steps += [change(lead, 2, "mql", "lead", c + timedelta(days=9)), change(lead, 3, "lead", "mql", c + timedelta(days=12))]
            if lead["stage"] in ("sql", "sal"):
                steps.append(change(lead, 4, "mql", "sql", c + timedelta(days=2, hours=i)))
            if lead["stage"] == "sal":
                steps.append(change(lead, 5, "sql", "sal", c + timedelta(days=4)))
            later.append(steps)
        if lead["stage"] == "disqualified":
            later.append([change(lead, 6, "lead", "disqualified", c + timedelta(hours=1))])
    return [first, *later]


async def _fill(database_url: str, *, history: bool = True) -> tuple[list[dict], list[dict], list[dict]]:
    rows = _lead_rows()
    tps = _touchpoint_rows(rows)
    statements = _history_statements(rows)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(leads), rows)
            await conn.execute(insert(touchpoints), tps)
        if history:
            for statement in statements:
                async with engine.begin() as conn:
                    # a multi-row VALUES: one statement, so the statement-level trigger sees them together
                    await conn.execute(insert(stage_history).values(statement))
    finally:
        await engine.dispose()
    return rows, tps, [row for statement in statements for row in statement]


@pytest.fixture(scope="module")
async def dataset(test_env):
    return await _fill(test_env.database_url)


def _app(test_env, **overrides):
    settings = ScoringSettings(**{k.removeprefix("LEADFLOW_").lower(): v for k, v in test_env.env.items()}, **overrides)
    return create_app(settings)


@pytest.fixture(scope="module")
async def client(test_env, dataset):
    """The scoring app in-process without its workers (no lifespan): the read routes only need the engine."""
    app = _app(test_env, scoring_admin_key=KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring.test",
                                 headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c
    await app.state.container.engine.dispose()


async def _all_pages(client, params: dict, limit: int = 7) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        r = await client.get("/v1/leads", params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert pages < 100


# ------------------------------------------------------------------------------------------ list

@pytest.mark.parametrize("sort", ["updated_at", "score", "created_at"])
@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_every_sort_pages_through_every_lead_once_in_order(client, dataset, sort, order):
    rows = dataset[0]
    got = await _all_pages(client, {"sort": sort, "order": order})
    expected = sorted(rows, key=lambda r: (r[sort], uuid.UUID(r["lead_id"])), reverse=order == "desc")
    assert [i["lead_id"] for i in got] == [r["lead_id"] for r in expected]


def _matches(row: dict, tps: list[dict], **f) -> bool:
    p = row["profile"]
    haystack = " ".join([row["email"] or "", p.get("first_name", ""), p.get("last_name", ""), p.get("company", "")]).lower()
    return all([
        not f.get("stages") or row["stage"] in f["stages"],
        not f.get("grades") or row["grade"] in f["grades"],
        f.get("score_min") is None or row["score"] >= f["score_min"],
        f.get("score_max") is None or row["score"] <= f["score_max"],
        f.get("since") is None or row["updated_at"] >= f["since"],
        not f.get("source") or any(t["lead_id"] == row["lead_id"] and t["source_id"] == f["source"] for t in tps),
        all(w in haystack for w in f.get("words", [])),
    ])


FILTER_CASES = [
    ({"stage": "mql"}, {"stages": ["mql"]}),
    ({"stage": ["sql", "sal"]}, {"stages": ["sql", "sal"]}),
    ({"grade": "B2"}, {"grades": ["B2"]}),
    ({"grade": ["A", "d3"]}, {"grades": ["A1", "A2", "A3", "D3"]}),
    ({"score_min": 40, "score_max": 90}, {"score_min": 40, "score_max": 90}),
    ({"source": "fair"}, {"source": "fair"}),
    ({"source": "partner", "stage": "lead"}, {"source": "partner", "stages": ["lead"]}),
    ({"updated_since": "2026-10-20T00:00:00Z"}, {"since": datetime(2026, 10, 20, tzinfo=UTC)}),
    ({"q": "lovelace"}, {"words": ["lovelace"]}),
    ({"q": "MÜLLER"}, {"words": ["müller"]}),
    ({"q": "hofmann ada"}, {"words": ["hofmann", "ada"]}),
    ({"q": "ada ac"}, {"words": ["ada", "ac"]}),  # a short word narrows what a long one found
    ({"q": "jürgen.6"}, {"words": ["jürgen.6"]}),  # no match: the e-mail spells it juergen
    ({"q": "juergen"}, {"words": ["juergen"]}),
    ({"q": "100%"}, {"words": ["100%"]}),  # % is a literal, not a wildcard
    ({"q": "gmbh", "stage": "lead", "score_min": 30}, {"words": ["gmbh"], "stages": ["lead"], "score_min": 30}),
]


@pytest.mark.parametrize(("params", "spec"), FILTER_CASES, ids=[str(c[0]) for c in FILTER_CASES])
async def test_filters_return_exactly_the_matching_leads(client, dataset, params, spec):
    rows, tps, _ = dataset
    got = await _all_pages(client, {**params, "sort": "score"}, limit=5)
    expected = [r for r in sorted(rows, key=lambda r: (r["score"], uuid.UUID(r["lead_id"])), reverse=True) if _matches(r, tps, **spec)]
    assert [i["lead_id"] for i in got] == [r["lead_id"] for r in expected]
    if params in ({"q": "lovelace"}, {"stage": "mql"}, {"source": "fair"}):
        assert expected, "the case should match something"


@pytest.mark.parametrize("q", ["gmbh", "müller", "hofmann ada", "ada ac"])
async def test_frequent_words_page_the_same_as_rare_ones(client, monkeypatch, q):
    """Above the candidate cap the text is checked while walking the sort order: same pages, other plan."""
    expected = await _all_pages(client, {"q": q, "sort": "created_at"}, limit=4)
    monkeypatch.setattr(lead_search, "TEXT_CANDIDATES", 1)
    assert await _all_pages(client, {"q": q, "sort": "created_at"}, limit=4) == expected
    assert len(expected) > 1


async def test_a_walk_past_its_budget_is_answered_the_other_way_round(test_env, dataset):
    """The page query is abandoned after the budget and run once more without index walks (no timeout then)."""
    engine = make_engine(test_env.database_url)
    slow = select(leads.c.lead_id, func.pg_sleep(0.3).label("slept")).order_by(leads.c.lead_id).limit(1)
    before = lead_search.WALKS_ABANDONED._value.get()
    try:
        async with engine.connect() as conn:
            rows = await lead_search._walk_or_gather(conn, slow)
    finally:
        await engine.dispose()
    assert [r["lead_id"] for r in rows] == [min(dataset[0], key=lambda r: uuid.UUID(r["lead_id"]))["lead_id"]]
    assert lead_search.WALKS_ABANDONED._value.get() == before + 1


async def test_exact_email_lookup_still_works(client, dataset):
    row = next(r for r in dataset[0] if r["email"])
    r = await client.get("/v1/leads", params={"email": f"  {row['email'].upper()} "})
    assert [i["lead_id"] for i in r.json()["items"]] == [row["lead_id"]]


async def test_a_cursor_of_the_original_form_still_pages_newest_activity_first(client):
    first = (await client.get("/v1/leads", params={"limit": 5})).json()
    last = first["items"][-1]
    legacy = base64.urlsafe_b64encode(f"{datetime.fromisoformat(last['updated_at']).isoformat()}|{last['lead_id']}".encode()).decode()
    via_legacy = (await client.get("/v1/leads", params={"limit": 5, "cursor": legacy})).json()
    via_new = (await client.get("/v1/leads", params={"limit": 5, "cursor": first["next_cursor"]})).json()
    assert via_legacy["items"] == via_new["items"] and via_new["items"]


@pytest.mark.parametrize(("params", "status", "says"), [
    ({"cursor": "not-a-cursor"}, 400, "not one this API returned"),
    ({"q": "ab"}, 422, "at least 3 characters"),
    ({"q": "ab cd"}, 422, "at least 3 characters"),
    ({"grade": "E1"}, 422, "is not a grade"),
    ({"updated_since": "2026-10-20T00:00:00"}, 422, "time zone"),
    ({"sort": "email"}, 422, "sort"),
    ({"limit": 0}, 422, "limit"),
])
async def test_bad_parameters_are_problems_that_say_what_to_change(client, params, status, says):
    r = await client.get("/v1/leads", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.text


async def test_a_cursor_only_continues_the_sort_it_came_from(client):
    page = (await client.get("/v1/leads", params={"limit": 3, "sort": "score"})).json()
    r = await client.get("/v1/leads", params={"limit": 3, "sort": "created_at", "cursor": page["next_cursor"]})
    assert r.status_code == 400
    assert "sort=score&order=desc" in r.json()["detail"]


async def test_free_text_is_matched_through_the_trigram_index(test_env, dataset):
    """The search expression in the query must be the indexed one, or 1M leads means a full scan."""
    query = lead_search.build_query(lead_search.LeadFilter(text="lovelace"), sort=lead_search.SortKey.SCORE,
                                    order=lead_search.SortOrder.DESC, limit=50, cursor=None)
    engine = make_engine(test_env.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SET LOCAL enable_seqscan = off"))  # the table is tiny: make the planner show
            await conn.execute(text("SET LOCAL enable_indexscan = off"))  # which index can serve the condition
            compiled = query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            plan = "\n".join(r[0] for r in await conn.execute(text(f"EXPLAIN {compiled}")))
    finally:
        await engine.dispose()
    assert "ix_lead_search_trgm" in plan, plan


async def test_search_text_follows_profile_changes_but_not_score_updates_and_goes_with_the_lead(test_env, client):
    engine = make_engine(test_env.database_url)
    lead_id = str(uuid.uuid4())
    at = datetime(2026, 10, 30, tzinfo=UTC)
    row = {"lead_id": lead_id, "lead_key": "grace@navy.example", "email": "grace@navy.example", "stage": "lead", "score": 1,
           "fit": 0, "engagement": 1, "profile": {"first_name": "Grace"}, "model_id": "m", "model_hash": "h",
           "created_at": at, "updated_at": at, "stage_changed_at": at}

    async def found(q: str) -> bool:
        return lead_id in [i["lead_id"] for i in (await client.get("/v1/leads", params={"q": q, "limit": 500})).json()["items"]]

    async def search_row_version() -> tuple:
        async with engine.connect() as conn:
            return tuple((await conn.execute(text(
                "SELECT xmin::text, search_text FROM scoring.lead_search WHERE lead_id = :id"), {"id": lead_id})).one())

    try:
        async with engine.begin() as conn:
            await conn.execute(insert(leads), [row])
        assert await found("grace") and not await found("hopper")
        before = await search_row_version()
        async with engine.begin() as conn:
            await conn.execute(leads.update().where(leads.c.lead_id == lead_id).values(score=50, updated_at=at + timedelta(hours=1)))
        assert await search_row_version() == before, "a score update must not touch the search row"
        async with engine.begin() as conn:
            await conn.execute(leads.update().where(leads.c.lead_id == lead_id)
                               .values(profile={"first_name": "Grace", "last_name": "Hopper", "company": "US Navy"}))
        assert await found("hopper") and await found("navy grace")
        async with engine.begin() as conn:
            await conn.execute(leads.delete().where(leads.c.lead_id == lead_id))
        async with engine.connect() as conn:
            left = (await conn.execute(text("SELECT count(*) FROM scoring.lead_search WHERE lead_id = :id"), {"id": lead_id})).scalar()
        assert left == 0, "an erased lead's name and e-mail must not stay behind in the search table"
    finally:
        await engine.dispose()


# ------------------------------------------------------------------------------------------ funnel

def _expected_funnel(rows: list[dict], history: list[dict], start: date, end: date) -> dict:
    created = {r["lead_id"]: r["created_at"] for r in rows}
    seen: set[tuple[str, str]] = set()
    entered: Counter = Counter()
    first: Counter = Counter()
    per_day: dict[date, Counter] = defaultdict(Counter)
    reached: Counter = Counter()
    flow: Counter = Counter()
    times: dict[str, list[float]] = defaultdict(list)
    for h in history:  # in id order = insertion order
        key = (h["lead_id"], h["to_stage"])
        is_first = key not in seen
        seen.add(key)
        day = h["occurred_at"].astimezone(UTC).date()
        if is_first and start <= created[h["lead_id"]].date() <= end:
            reached[h["to_stage"]] += 1
        if not start <= day <= end:
            continue
        entered[h["to_stage"]] += 1
        per_day[day][h["to_stage"]] += 1
        flow[(h["from_stage"], h["to_stage"])] += 1
        if is_first:
            first[h["to_stage"]] += 1
            times[h["to_stage"]].append((h["occurred_at"] - created[h["lead_id"]]).total_seconds())
    return {"entered": entered, "first": first, "per_day": per_day, "reached": reached, "flow": flow, "times": times}


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


async def test_funnel_counts_conversions_and_times_match_the_stage_history(client, dataset):
    rows, _, history = dataset
    start, end = date(2026, 10, 5), date(2026, 11, 3)
    r = await client.get("/v1/funnel", params={"from": str(start), "to": str(end), "by": "day"})
    assert r.status_code == 200, r.text
    body = r.json()
    want = _expected_funnel(rows, history, start, end)
    assert body["from"] == str(start) and body["to"] == str(end) and body["time_zone"] == "UTC"
    assert len(body["periods"]) == 30
    for stage in ("lead", "mql", "sql", "sal", "customer", "disqualified"):
        assert body["totals"]["entered"][stage] == want["entered"][stage], stage
        assert body["totals"]["first_entered"][stage] == want["first"][stage], stage
    assert want["entered"]["mql"] > want["first"]["mql"], "the recycled leads should enter MQL twice"
    for period in body["periods"]:
        day = date.fromisoformat(period["start"])
        assert {k: v for k, v in period["entered"].items() if v} == dict(want["per_day"].get(day, {})), day
    assert {(f["from_stage"], f["to_stage"]): f["count"] for f in body["flow"]} == dict(want["flow"])
    conv = {(c["from_stage"], c["to_stage"]): c for c in body["conversion"]}
    assert list(conv) == [("lead", "mql"), ("mql", "sql"), ("sql", "sal"), ("sal", "customer")]
    for (a, b), c in conv.items():
        assert (c["from_count"], c["to_count"]) == (want["reached"][a], want["reached"][b])
    assert conv[("lead", "mql")]["rate"] == round(want["reached"]["mql"] / want["reached"]["lead"], 4)
    assert conv[("sal", "customer")]["to_count"] == 0 and conv[("sal", "customer")]["rate"] == 0.0  # no sales feedback yet
    for stage in ("mql", "sql"):
        got, exact = body["time_to_stage"][stage], want["times"][stage]
        assert got["leads"] == len(exact)
        for q, field in ((0.5, "median_seconds"), (0.9, "p90_seconds")):
            assert abs(math.log1p(got[field]) - math.log1p(_nearest_rank(exact, q))) <= math.log(1.1) / 2 + 1e-6, (stage, field)
    # no sales feedback in this dataset: the handover figures are empty, not missing
    assert body["rejections"] == [] and body["handover"]["accepted"] == 0 and body["handover"]["acceptance_rate"] is None
    assert body["handover"]["time_to_acceptance"] == {"leads": 0, "median_seconds": None, "p90_seconds": None}
    assert set(body["time_to_stage"]) == {"mql", "sql", "sal", "customer"}


async def test_weeks_start_on_monday_and_add_up_to_the_days(client):
    start, end = date(2026, 10, 7), date(2026, 10, 27)  # Wednesday .. Tuesday
    days = (await client.get("/v1/funnel", params={"from": str(start), "to": str(end), "by": "day"})).json()
    weeks = (await client.get("/v1/funnel", params={"from": str(start), "to": str(end), "by": "week"})).json()
    assert [(p["start"], p["end"]) for p in weeks["periods"]] == [
        ("2026-10-07", "2026-10-11"), ("2026-10-12", "2026-10-18"), ("2026-10-19", "2026-10-25"), ("2026-10-26", "2026-10-27")]
    assert weeks["totals"] == days["totals"]
    for week in weeks["periods"]:
        inside = [p for p in days["periods"] if week["start"] <= p["start"] <= week["end"]]
        assert week["entered"] == {k: sum(p["entered"][k] for p in inside) for k in week["entered"]}


async def test_the_default_range_is_the_last_90_days(client):
    body = (await client.get("/v1/funnel")).json()
    today = datetime.now(UTC).date()
    assert (body["from"], body["to"], body["by"]) == (str(today - timedelta(days=89)), str(today), "day")
    assert len(body["periods"]) == 90


@pytest.mark.parametrize(("params", "says"), [
    ({"from": "2026-10-10", "to": "2026-10-01"}, "is after"),
    ({"from": "2020-01-01", "to": "2026-10-01"}, "at most 731"),
    ({"by": "month"}, "by"),
    ({"from": "yesterday"}, "from"),
])
async def test_bad_funnel_ranges_are_422(client, params, says):
    r = await client.get("/v1/funnel", params=params)
    assert r.status_code == 422 and says in r.text


def test_percentiles_come_from_buckets_ten_percent_wide():
    values = [0.0, 0.4, 5, 59, 60, 61, 3600, 86400, 86400 * 3.5, 86400 * 30]
    histogram = Counter(funnel_module.bucket_of(v) for v in values)
    for q in (0.1, 0.5, 0.9, 1.0):
        got = funnel_module.percentile(histogram, q)
        assert abs(math.log1p(got) - math.log1p(_nearest_rank(values, q))) <= math.log(1.1) / 2 + 1e-9
    assert funnel_module.percentile({}, 0.5) is None


def _other_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def test_the_migration_backfills_the_aggregates_and_the_search_text(test_env, client):
    """Upgrading a database that already has leads and history gives the same funnel and search as recording them live."""
    name = f"leadflow_test_backfill_{uuid.uuid4().hex[:8]}"
    server = test_env.infra.database_url
    subprocess.run(["psql", libpq(server), "-q", "-c", f'CREATE DATABASE "{name}"'], check=True, timeout=60)
    url = _other_database(server, name)
    try:
        await asyncio.to_thread(upgrade, MIGRATIONS, url, "scoring", "0005")
        await _fill(url)  # before 0006: no trigger yet
        await asyncio.to_thread(upgrade, MIGRATIONS, url, "scoring", "head")
        app = create_app(ScoringSettings(database_url=url))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring.test") as backfilled:
            params = {"from": "2026-10-01", "to": "2026-11-30", "by": "week"}
            assert (await backfilled.get("/v1/funnel", params=params)).json() == (await client.get("/v1/funnel", params=params)).json()
            search = {"q": "müller", "limit": 500}
            matches = (await backfilled.get("/v1/leads", params=search)).json()["items"]
            assert matches and matches == (await client.get("/v1/leads", params=search)).json()["items"]
        await app.state.container.engine.dispose()
    finally:
        subprocess.run(["psql", libpq(server), "-q", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False, timeout=60)


# ------------------------------------------------------------------------------------------ dashboard access

async def test_without_an_admin_key_the_dashboard_is_off_and_says_how_to_enable_it(test_env, dataset):
    app = _app(test_env)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring.test") as c:
        for path in ("/dashboard", "/dashboard/login", "/dashboard/config"):
            r = await c.get(path)
            assert r.status_code == 503, path
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "LEADFLOW_SCORING_ADMIN_KEY" in r.json()["detail"]
        assert (await c.get("/v1/funnel")).status_code == 200  # open, like the rest of the read API
    await app.state.container.engine.dispose()


async def test_login_sets_an_http_only_signed_cookie_that_opens_the_dashboard_and_its_api(test_env, dataset):
    app = _app(test_env, scoring_admin_key=KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring.test") as c:
        r = await c.get("/dashboard")
        assert (r.status_code, r.headers["location"]) == (303, "/dashboard/login")
        assert (await c.get("/v1/funnel")).status_code == 401
        assert (await c.get("/dashboard/config")).status_code == 401
        wrong = await c.post("/dashboard/login", data={"key": "not-the-key-but-long-enough"})
        assert wrong.status_code == 401 and "not the admin key" in wrong.text and session.COOKIE not in wrong.cookies

        ok = await c.post("/dashboard/login", data={"key": KEY})
        assert (ok.status_code, ok.headers["location"]) == (303, "/dashboard")
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        page = await c.get("/dashboard")
        assert page.status_code == 200 and 'id="main"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "http://127.0.0.1:8002" in page.headers["content-security-policy"]
        assert (await c.get("/v1/funnel")).status_code == 200
        config = (await c.get("/dashboard/config")).json()
        assert config["grades"]["fit"][0] == ["A", 30] and config["handover_url"] == "http://127.0.0.1:8002"

        good = c.cookies[session.COOKIE]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring.test") as bare:
            async def funnel_with(cookie: str) -> int:
                return (await bare.get("/v1/funnel", headers={"cookie": f"{session.COOKIE}={cookie}"})).status_code

            assert await funnel_with(good) == 200
            assert await funnel_with(good[:-2] + ("00" if not good.endswith("00") else "11")) == 401  # tampered
            assert await funnel_with(session.issue(KEY, now=0)) == 401  # expired
            assert await funnel_with(session.issue("another-admin-key-0123456789")) == 401  # another key
            assert (await bare.get("/v1/funnel", headers={"authorization": "Bearer wrong-key-0123456789"})).status_code == 401

        await c.post("/dashboard/login", data={"key": KEY})
        out = await c.post("/dashboard/logout")
        assert out.status_code == 303 and session.COOKIE not in c.cookies
        assert (await c.get("/dashboard")).status_code == 303
    await app.state.container.engine.dispose()


async def test_assets_are_served_with_their_types_and_nothing_else_is(test_env):
    app = _app(test_env, scoring_admin_key=KEY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scoring.test") as c:
        js = await c.get("/dashboard/assets/app.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
        assert (await c.get("/dashboard/assets/app.css")).headers["content-type"].startswith("text/css")
        assert (await c.get("/dashboard/assets/..%2Fsession.py")).status_code == 404
        assert (await c.get("/dashboard/assets/login.html")).status_code == 404
    await app.state.container.engine.dispose()


@pytest.mark.parametrize("key", ["changeme", "short-key", "aaaaaaaaaaaaaaaaaaaa"])
def test_a_placeholder_admin_key_stops_start_up(key):
    with pytest.raises(ValidationError, match="LEADFLOW_SCORING_ADMIN_KEY"):
        ScoringSettings(scoring_admin_key=key)


async def test_handover_lets_the_dashboard_origin_read_deliveries_and_no_other(test_env):
    from leadflow_handover.app import create_app as handover_app
    from leadflow_handover.settings import HandoverSettings

    settings = HandoverSettings(**{k.removeprefix("LEADFLOW_").lower(): v for k, v in test_env.env.items()},
                                handover_dashboard_origins=["http://dash.example:8001"])
    app = handover_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handover") as c:
        ok = await c.get("/v1/deliveries", headers={"origin": "http://dash.example:8001"})
        assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://dash.example:8001"
        preflight = await c.options("/v1/deliveries/x/replay", headers={
            "origin": "http://dash.example:8001", "access-control-request-method": "POST",
            "access-control-request-headers": "authorization"})
        assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]
        other = await c.get("/v1/deliveries", headers={"origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    await app.state.container.engine.dispose()
