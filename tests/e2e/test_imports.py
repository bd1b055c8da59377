"""A trade fair's contact list imported with `leadflow import`, through ingest and Kafka into scoring (as processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from leadflow_scoring.domain.scoring import lead_id_for
from tests.support.processes import ServiceProcess, wait_for

pytestmark = pytest.mark.e2e

ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
GERMAN = FIXTURES / "hannover-messe-2026-excel.csv"
EVENT_DATE = (date.today() - timedelta(days=3)).isoformat()  # a recent fair: its points have hardly decayed
PEOPLE = ["juergen.mueller@mueller-soehne.example", "b.schaefer@grosshandel-weiss.example",
          "anja@baeckerei-koehler.example", "lukas.oe@alpen-mb.example", "zoe.braendli@uhren-braendli.example"]


@pytest.fixture(scope="module")
def services(test_env):
    env = {**test_env.env, "LEADFLOW_INGEST_ADMIN_KEY": ADMIN_KEY}
    procs = [ServiceProcess(s, env).start() for s in ("ingest", "scoring")]
    yield {p.service: p for p in procs}
    for p in procs:
        p.stop()


@pytest.fixture(scope="module")
def api_key(services) -> str:
    ingest, admin = services["ingest"].url, {"Authorization": f"Bearer {ADMIN_KEY}"}
    r = httpx.put(f"{ingest}/v1/sources/hannover-messe-2026", json={"kind": "api", "name": "Hannover Messe 2026"},
                  headers=admin, timeout=10)
    assert r.status_code in (200, 201), r.text
    return httpx.post(f"{ingest}/v1/sources/hannover-messe-2026/keys", headers=admin, timeout=10).json()["key"]


def leadflow_import(services, api_key: str, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "leadflow_ingest.importer_cli", "import", str(path), "--source", "hannover-messe-2026",
               "--event-date", EVENT_DATE, "--url", services["ingest"].url, *extra]
    return subprocess.run(command, env={**os.environ, "LEADFLOW_API_KEY": api_key, "COLUMNS": "120"},
                          capture_output=True, text=True, timeout=120)


def lead(services, email: str) -> dict | None:
    r = httpx.get(f"{services['scoring'].url}/v1/leads/{lead_id_for(email)}", timeout=10)
    return r.json() if r.status_code == 200 else None



def test_imported_contacts_become_scored_leads_with_their_profile_and_the_fair_points(services, api_key):
    run = leadflow_import(services, api_key, GERMAN, "--consent-wording", "messe-2026-v1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "completed" in run.stdout and "touchpoints" in run.stdout

    assert wait_for(lambda: all(lead(services, e) for e in PEOPLE)), "not every imported contact reached scoring"
    juergen = lead(services, "juergen.mueller@mueller-soehne.example")
    assert juergen["profile"] == {"first_name": "Jürgen", "last_name": "Müller", "company": "Müller & Söhne GmbH",
                                  "job_title": "Geschäftsführer", "phone": "0049 511 123456", "country": "DE",
                                  "company_size": 250}
    assert juergen["touchpoint_count"] == 1
    fair = [line for line in juergen["ledger"] if line["rule_id"] == "trade-fair"]
    assert len(fair) == 1 and fair[0]["points"] == 30
    assert {line["rule_id"] for line in juergen["ledger"]} >= {"trade-fair", "business-email", "decision-maker"}
    touchpoint = juergen["touchpoints"][0]
    assert touchpoint["type"] == "event_visited" and touchpoint["source_id"] == "hannover-messe-2026"
    assert touchpoint["properties"]["event"] == "Hannover Messe 2026"
    assert touchpoint["properties"]["event_date"] == EVENT_DATE
    bjoern = lead(services, "b.schaefer@grosshandel-weiss.example")  # two scans, one person, one touchpoint
    assert bjoern["touchpoint_count"] == 1 and bjoern["profile"]["job_title"] == "Leiter Einkauf und Logistik"

    export = httpx.get(f"{services['scoring'].url}/v1/leads/{juergen['lead_id']}/export", timeout=10).json()
    assert [(c["purpose"], c["granted"], c["wording_version"]) for c in export["consents"]] == [
        ("newsletter", True, "messe-2026-v1")]


def test_importing_again_adds_no_touchpoints(services, api_key, tmp_path):
    first = leadflow_import(services, api_key, GERMAN, "--consent-wording", "messe-2026-v1")
    assert first.returncode == 0 and "nothing was sent again" in first.stderr.replace("\n", " "), first.stderr

    # the same people in a corrected list (one more contact): a new import, the same event ids
    corrected = tmp_path / "hannover-messe-2026-korrigiert.csv"
    corrected.write_bytes(GERMAN.read_bytes() + "Frau;Nina;Neu;Neu AG;CTO;nina@neu-ag.example;;;;;DE;80;ja;\r\n".encode("cp1252"))
    second = leadflow_import(services, api_key, corrected)
    assert second.returncode == 0, second.stdout + second.stderr
    assert wait_for(lambda: lead(services, "nina@neu-ag.example")), "the new contact did not reach scoring"
    time.sleep(1.0)  # the repeated people were in the same batches as Nina, or before
    for email in PEOPLE:
        assert lead(services, email)["touchpoint_count"] == 1, email
