"""The dashboard in a real headless Chromium over the three services as processes, filled with the demo.

Numbers on the pages are compared with what the APIs answer; every page is photographed into
``test-artifacts/dashboard-*.png`` at 1366 x 768. Chromium is Debian's (``apt-get install -y
chromium``); without it the test is skipped locally and fails in CI (``CI=true``).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ServiceProcess, free_port, wait_for
from tests.support.receiver import WebhookReceiver
from tests.support.stack import ARTIFACTS, ROOT

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("LEADFLOW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ADMIN_KEY = "dashboard-test-admin-key-4b1d77aa"
HANDOVER_KEY = "handover-test-admin-key-90c3e1f2"
SECRET = "whsec_" + base64.b64encode(b"dashboard-test-secret-0123456789").decode()
VIEWPORT = {"width": 1366, "height": 768}
ROUTING = """
teams:
  - name: inbound
    members: [{id: lena, name: Lena Fischer}, {id: omar, name: Omar Haddad}]
routing:
  rules:
    - {name: everyone, team: inbound}
"""


def _missing(what: str) -> None:
    message = f"{what}; install it with `apt-get install -y chromium` (Python playwright comes with `uv sync`)."
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs the browser test: {message}")
    pytest.skip(message)


def _sync_playwright():  # type: ignore[no-untyped-def]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed")
    if not CHROMIUM.exists():
        _missing(f"no Chromium at {CHROMIUM}")
    return sync_playwright


def _demo_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("leadflow_local_demo", ROOT / "deploy" / "local" / "demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module



@pytest.fixture(scope="module")
def browser_factory():
    sync_playwright = _sync_playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(test_env, browser_factory, tmp_path_factory):
    """Ingest, scoring and handover with the demo posted: 12 leads, 4 SQLs, each assigned to a rep of the one team and
    handed to a good and a failing receiver."""
    demo = _demo_module()
    scenario = demo.load_scenario()
    routing = tmp_path_factory.mktemp("handover") / "handover.yaml"
    routing.write_text(ROUTING)
    with WebhookReceiver() as good, WebhookReceiver(default_status=400) as failing:
        scoring_port, handover_port = free_port(), free_port()
        env = {
            "LEADFLOW_HANDOVER_DESTINATIONS_FILE": str(routing),
            **test_env.env,
            "LEADFLOW_SCORING_ADMIN_KEY": ADMIN_KEY,
            "LEADFLOW_DASHBOARD_HANDOVER_URL": f"http://127.0.0.1:{handover_port}",
            "LEADFLOW_HANDOVER_DASHBOARD_ORIGINS": json.dumps([f"http://127.0.0.1:{scoring_port}"]),
            "LEADFLOW_HANDOVER_ADMIN_KEY": HANDOVER_KEY,
            "LEADFLOW_HANDOVER_DESTINATIONS": json.dumps([
                {"name": "sales-crm", "url": good.url, "secrets": [SECRET]},
                {"name": "legacy-crm", "url": failing.url, "secrets": [SECRET]},
            ]),
        }
        procs = [ServiceProcess("ingest", env).start(wait_ready=False),
                 ServiceProcess("scoring", env, port=scoring_port).start(wait_ready=False),
                 ServiceProcess("handover", env, port=handover_port).start(wait_ready=False)]
        try:
            for p in procs:
                p.wait_ready()
            services = {p.service: p for p in procs}
            with httpx.Client(timeout=10) as client:
                for step in demo.posting_order(scenario):
                    r = client.post(f"{services['ingest'].url}/v1/touchpoints", json=step.body())
                    assert r.status_code == 202, r.text
                sqls = [lead for lead in scenario if lead.expect == "sql"]
                auth = {"Authorization": f"Bearer {ADMIN_KEY}"}

                def settled() -> bool:
                    page = client.get(f"{services['scoring'].url}/v1/leads", params={"limit": 100}, headers=auth).json()
                    stages = {lead["email"]: lead["stage"] for lead in page["items"]}
                    if stages != {lead.email: lead.expect for lead in scenario}:
                        return False
                    deliveries = client.get(f"{services['handover'].url}/v1/deliveries").json()
                    assigned = [lead for lead in page["items"] if lead["assignment"]]
                    return (len(deliveries) == 2 * len(sqls) and all(d["status"] != "pending" for d in deliveries)
                            and len(assigned) == len(sqls))

                assert wait_for(settled, timeout=90), "the demo did not settle into the stages the scenario expects"
            yield {**services, "scenario": scenario}
        finally:
            for p in procs:
                p.stop()


@pytest.fixture(scope="module")
def problems() -> list[str]:
    """Console errors and uncaught exceptions of every page the tests open."""
    return []


@pytest.fixture(scope="module")
def page(stack, browser_factory, problems):
    context = browser_factory.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} ({m.location})") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield page
    context.close()


def api(stack, path: str, **params):  # type: ignore[no-untyped-def]
    r = httpx.get(f"{stack['scoring'].url}{path}", params=params, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10)
    r.raise_for_status()
    return r.json()


def number(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


def show(page, hash_: str) -> None:  # type: ignore[no-untyped-def]
    page.evaluate("h => { window.location.hash = h; }", hash_)
    page.wait_for_selector(f'main[data-ready="{hash_}"]', timeout=15000)
    errors = page.locator("main .error").all_inner_texts()
    assert not errors, errors


def show_again(page, hash_: str) -> None:  # type: ignore[no-untyped-def]
    """The page at ``hash_`` loaded afresh (setting the hash it already has would not)."""
    page.evaluate("h => { window.location.hash = h; }", hash_)
    page.reload()
    page.wait_for_selector(f'main[data-ready="{hash_}"]', timeout=15000)
    errors = page.locator("main .error").all_inner_texts()
    assert not errors, errors


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def fits_the_screen(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_dashboard_asks_for_the_admin_key_first(stack, page, problems):
    page.goto(f"{stack['scoring'].url}/dashboard")
    assert page.url.endswith("/dashboard/login")
    page.fill("input[name=key]", "this-is-not-the-admin-key")
    page.click("button[type=submit]")
    assert "not the admin key" in page.inner_text("body")
    problems.clear()  # a browser may log the 401 of the wrong key; that one is expected
    screenshot(page, "login")
    page.fill("input[name=key]", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_selector('main[data-ready="#/funnel"]', timeout=15000)
    cookie = next(c for c in page.context.cookies() if c["name"] == "leadflow_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def test_the_funnel_shows_the_api_counts(stack, page):
    show(page, "#/funnel")
    funnel = api(stack, "/v1/funnel")
    shown = {s: number(page.inner_text(f'[data-testid="entered-{s}"]')) for s in ("lead", "mql", "sql", "sal", "customer")}
    assert shown == {s: funnel["totals"]["entered"][s] for s in shown}
    assert shown["lead"] == len(stack["scenario"]) and shown["sql"] == 4 and shown["mql"] >= 7
    rate = page.inner_text('[data-testid="conversion-lead-mql"]')
    assert rate == f"{funnel['conversion'][0]['rate'] * 100:.1f} %"
    assert page.locator("svg.chart").count() == 2
    assert page.locator('[data-testid="flow"] tbody tr').count() == len(funnel["flow"])
    wait_for(lambda: "loading" not in page.inner_text('[data-testid="sql-to-delivery"]'), timeout=10)
    assert "median" in page.inner_text('[data-testid="sql-to-delivery"]')
    assert fits_the_screen(page)
    screenshot(page, "funnel")


def test_the_lead_table_filters_like_the_api(stack, page):
    show(page, "#/leads")
    everyone = api(stack, "/v1/leads", limit=50)["items"]
    rows = page.locator('[data-testid="lead-row"]')
    assert [rows.nth(i).get_attribute("data-lead-id") for i in range(rows.count())] == [x["lead_id"] for x in everyone]
    page.select_option("select[name=stage]", "sql")
    page.select_option("select[name=sort]", "score")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector('main[data-ready="#/leads?stage=sql&sort=score&order=desc"]', timeout=15000)
    sqls = api(stack, "/v1/leads", stage="sql", sort="score")["items"]
    assert len(sqls) == 4
    assert [rows.nth(i).get_attribute("data-lead-id") for i in range(rows.count())] == [x["lead_id"] for x in sqls]
    assert fits_the_screen(page)
    screenshot(page, "leads")


def test_the_lead_table_shows_who_has_each_lead_and_filters_by_team_and_rep(stack, page):
    show(page, "#/leads")
    options = page.locator("datalist#teams option").evaluate_all("els => els.map(e => e.value)")
    assert options == ["inbound"]  # suggested from handover's teams
    page.fill("input[name=team]", "inbound")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector('main[data-ready="#/leads?team=inbound&sort=updated_at&order=desc"]', timeout=15000)
    assigned = api(stack, "/v1/leads", team="inbound")["items"]
    assert len(assigned) == 4 and all(x["stage"] == "sql" for x in assigned)
    rows = page.locator('[data-testid="lead-row"]')
    assert [rows.nth(i).get_attribute("data-lead-id") for i in range(rows.count())] == [x["lead_id"] for x in assigned]
    cells = page.locator('[data-testid="lead-row"] [data-testid="assignee"]').all_inner_texts()
    assert cells == [f"{x['assignment']['member']} · inbound" for x in assigned]
    assert {x["assignment"]["member"] for x in assigned} == {"lena", "omar"}  # the round-robin took turns

    rep = assigned[0]["assignment"]["member"]
    page.fill("input[name=rep]", rep)
    page.click("form.filters button[type=submit]")
    page.wait_for_selector(f'main[data-ready="#/leads?team=inbound&rep={rep}&sort=updated_at&order=desc"]', timeout=15000)
    theirs = api(stack, "/v1/leads", team="inbound", rep=rep)["items"]
    assert [rows.nth(i).get_attribute("data-lead-id") for i in range(rows.count())] == [x["lead_id"] for x in theirs]
    assert 0 < len(theirs) < 4
    assert fits_the_screen(page)
    screenshot(page, "leads-by-rep")


def test_a_lead_page_explains_the_score_and_shows_the_timeline(stack, page):
    thomas = next(lead for lead in stack["scenario"] if lead.key == "thomas")
    show(page, "#/leads?stage=sql&sort=score&order=desc")
    page.click(f'[data-testid="lead-row"]:has-text("{thomas.email}") a')
    lead = api(stack, "/v1/leads", email=thomas.email)["items"][0]
    page.wait_for_selector(f'main[data-ready="#/leads/{lead["lead_id"]}"]', timeout=15000)
    score = api(stack, f"/v1/leads/{lead['lead_id']}/score")
    lines = page.locator('[data-testid="ledger-line"]')
    assert [lines.nth(i).get_attribute("data-rule") for i in range(lines.count())] == [x["rule_id"] for x in score["ledger"]]
    assert number(page.inner_text('[data-testid="ledger-sum"]')) == score["score"] == number(page.inner_text('[data-testid="lead-score"]'))
    assert page.inner_text('[data-testid="grade-grid"] td.here') == score["grade"]
    detail = api(stack, f"/v1/leads/{lead['lead_id']}")
    kinds = [k for k in page.locator('[data-testid="timeline-item"]').evaluate_all("els => els.map(e => e.dataset.kind)")]
    assert kinds.count("touchpoint") == len(detail["touchpoints"])
    assert kinds.count("stage") == len(detail["stage_history"])
    assert kinds.count("handover") == 2  # the good receiver and the failing one
    assert page.inner_text('[data-testid="lead-assignee"]').startswith(f"{detail['assignment']['member']} · inbound, since ")
    assert fits_the_screen(page)
    screenshot(page, "lead")


def test_the_handover_page_shows_delivery_status_and_failed_deliveries(stack, page):
    show(page, "#/handover")
    deliveries = httpx.get(f"{stack['handover'].url}/v1/deliveries", timeout=10).json()
    for status in ("succeeded", "failed", "pending"):
        assert number(page.inner_text(f'[data-testid="deliveries-{status}"]')) == sum(d["status"] == status for d in deliveries)
    failed = page.locator('[data-testid="failed-delivery"]')
    assert failed.count() == 4
    replay = page.locator('[data-testid="replay"]').first
    spec = httpx.get(f"{stack['handover'].url}/openapi.json", timeout=10).json()
    has_replay = any(re.fullmatch(r"/v1/deliveries/\{[^}]+\}/replay", p) and "post" in ops for p, ops in spec["paths"].items())
    assert replay.is_disabled()
    if has_replay:
        page.fill('[data-testid="handover-key"]', HANDOVER_KEY)
        assert replay.is_enabled()
        replay.click()
        wait_for(lambda: page.locator("[role=status].pos, [role=status].neg").count() > 0, timeout=10)
        assert page.locator("[role=status].pos").count() == 1, page.inner_text("[role=status]")
    else:
        assert "no POST /v1/deliveries/{id}/replay" in replay.locator("xpath=..").get_attribute("title")
    assert fits_the_screen(page)
    screenshot(page, "handover")


def test_the_handover_page_shows_acceptance_deadlines_and_time_to_acceptance(stack, page):
    base = stack["handover"].url
    handovers = httpx.get(f"{base}/v1/handovers", timeout=10).json()
    assert len(handovers) == sum(lead.expect == "sql" for lead in stack["scenario"])  # one handover per SQL
    show_again(page, "#/handover")
    for status in ("pending", "accepted", "rejected"):
        assert number(page.inner_text(f'[data-testid="handovers-{status}"]')) == sum(h["status"] == status for h in handovers)
    rows = page.locator('[data-testid="open-handover"]')
    waiting = rows.count()
    assert waiting == sum(h["status"] == "pending" for h in handovers) > 0
    assert page.locator('[data-testid="open-handover"][data-overdue="true"]').count() == 0  # one hour to accept
    assert "inbound" in rows.first.inner_text()  # the team handover assigned
    assert page.inner_text('[data-testid="time-to-acceptance"]') == "none accepted yet"

    first = next(h for h in handovers if h["status"] == "pending")
    r = httpx.post(f"{base}/v1/handovers/{first['id']}/accept", headers={"Authorization": f"Bearer {HANDOVER_KEY}"},
                   json={"by": "browser-test"}, timeout=10)
    assert r.status_code == 200, r.text
    show_again(page, "#/handover")
    assert number(page.inner_text('[data-testid="handovers-accepted"]')) == 1
    assert page.locator('[data-testid="open-handover"]').count() == waiting - 1
    assert page.inner_text('[data-testid="time-to-acceptance"]').startswith("median ")
    screenshot(page, "handover-deadlines")


def test_no_page_logged_an_error(page, problems):
    assert problems == []
