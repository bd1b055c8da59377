"""GDPR with the real stack: export, erasure everywhere, no resurrection by replay, objection stops a handover."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import asyncpg
import httpx
import pytest

from leadflow_scoring.domain.scoring import lead_id_for
from tests.support.processes import ServiceProcess
from tests.support.receiver import WebhookReceiver
from tests.support.stack import libpq

pytestmark = pytest.mark.e2e
SECRET = "whsec_" + base64.b64encode(b"privacy-test-secret-0123456789ab").decode()
CONSENT = {"purpose": "newsletter", "legal_basis": "consent", "wording_version": "nl-2026-03", "source": "footer-form",
           "proof": "doi-token-7f3a"}


def wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


async def text_columns_containing(database_url: str, needle: str) -> list[str]:
    """Every text-like column in the service schemas that holds ``needle`` anywhere."""
    conn = await asyncpg.connect(libpq(database_url))
    try:
        cols = await conn.fetch(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE table_schema IN ('scoring', 'handover', 'ingest') "
            "AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea')"
        )
        hits = []
        for c in cols:
            expr = f'"{c["column_name"]}"::text' if c["column_name"] else None
            if expr is None:
                continue
            query = (f'SELECT count(*) FROM "{c["table_schema"]}"."{c["table_name"]}" '
                     f"WHERE position($1 in encode(convert_to({expr}, 'UTF8'), 'escape')) > 0 OR {expr} ILIKE '%' || $1 || '%'")
            if await conn.fetchval(query, needle):
                hits.append(f'{c["table_schema"]}.{c["table_name"]}.{c["column_name"]}')
        return hits
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def stack(test_env, receiver):
    env = {
        **test_env.env,
        "LEADFLOW_HANDOVER_DESTINATIONS": json.dumps([{"name": "crm", "url": receiver.url, "secrets": [SECRET]}]),
        "LEADFLOW_HANDOVER_RETRY_SCHEDULE": "[0, 4, 4, 4]",
    }
    procs = {s: ServiceProcess(s, env, name=f"privacy-{s}").start() for s in ("ingest", "scoring", "handover")}
    yield procs, env
    for p in procs.values():
        p.stop()


def post(procs, body):
    r = httpx.post(f"{procs['ingest'].url}/v1/touchpoints", json=body, timeout=10)
    assert r.status_code == 202, r.text
    return r.json()["event_id"]


async def test_export_then_erase_leaves_no_trace_and_replay_does_not_resurrect(stack, test_env, receiver):
    procs, env = stack
    email = "erika.muster@privacy.example"
    ids = [
        post(procs, {"type": "newsletter_subscribed", "email": email, "consent": CONSENT,
                     "profile": {"first_name": "Erika", "last_name": "Mustermann", "company": "Muster AG", "company_size": 80,
                                 "job_title": "Geschäftsführerin"}}),
        post(procs, {"type": "newsletter_confirmed", "email": email,
                     "consent": {**CONSENT, "double_opt_in_confirmed_at": "2026-11-27T10:00:00Z"}}),
        post(procs, {"type": "demo_requested", "email": email, "properties": {"note": f"call {email} please"}}),
    ]
    scoring = procs["scoring"].url
    lead_id = lead_id_for(email)
    assert wait(lambda: httpx.get(f"{scoring}/v1/leads/{lead_id}").json().get("touchpoint_count") == 3)
    assert wait(lambda: any(r.json["lead"]["email"] == email for r in receiver.snapshot())), "no handover"
    export = httpx.get(f"{scoring}/v1/leads/{lead_id}/export").json()
    assert sorted(t["event_id"] for t in export["touchpoints"]) == sorted(ids)
    assert [c["purpose"] for c in export["consents"]] == ["newsletter", "newsletter"]
    assert export["consents"][1]["double_opt_in_confirmed_at"]
    assert export["stage_history"] and export["score_ledger"]

    assert httpx.delete(f"{scoring}/v1/leads", params={"email": email}).status_code == 204
    assert httpx.get(f"{scoring}/v1/leads/{lead_id}").status_code == 404
    handover = procs["handover"].url

    def wiped() -> bool:
        ds = [d for d in httpx.get(f"{handover}/v1/deliveries", params={"lead_id": lead_id}).json()]
        return bool(ds)

    assert wiped()
    deadline = time.monotonic() + 20
    hits = await text_columns_containing(test_env.database_url, email)
    while hits and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        hits = await text_columns_containing(test_env.database_url, email)
    assert hits == [], f"the e-mail is still stored in {hits}"
    assert await text_columns_containing(test_env.database_url, "Mustermann") == []

    # Replay the touchpoint topic from the beginning: the erased person must not come back.
    procs["scoring"].stop()
    conn = await asyncpg.connect(libpq(test_env.database_url))
    await conn.execute("DELETE FROM scoring.consumer_offsets")
    await conn.close()
    procs["scoring"] = ServiceProcess("scoring", env, name="privacy-scoring-replay").start()
    await asyncio.sleep(6)
    assert httpx.get(f"{procs['scoring'].url}/v1/leads/{lead_id}").status_code == 404
    assert await text_columns_containing(test_env.database_url, email) == []


async def test_objection_stops_a_pending_handover_and_later_touchpoints(stack, test_env, receiver):
    procs, _ = stack
    email = "olaf.objects@privacy.example"
    receiver.default_status = 503  # the CRM is down: the handover waits for its retry
    try:
        post(procs, {"type": "demo_requested", "email": email, "profile": {"job_title": "CTO", "company_size": 500}})
        assert wait(lambda: any(r.json["lead"]["email"] == email for r in receiver.snapshot())), "no first attempt"
        lead_id = lead_id_for(email)
        r = httpx.post(f"{procs['scoring'].url}/v1/leads/{lead_id}/objection", json={"how": "e-mail to privacy@"})
        assert r.status_code == 202
        handover = procs["handover"].url
        assert wait(lambda: [d["status"] for d in httpx.get(f"{handover}/v1/deliveries", params={"lead_id": lead_id}).json()]
                    == ["cancelled"]), "the pending handover was not cancelled"
        time.sleep(5)  # past the retry time
        attempts = [r for r in receiver.snapshot() if r.json.get("lead", {}).get("email") == email]
        assert len(attempts) == 1
        post(procs, {"type": "form_submitted", "email": email})
        time.sleep(2)
        lead = httpx.get(f"{procs['scoring'].url}/v1/leads/{lead_id}").json()
        assert lead["stage"] == "objected" and lead["score"] == 0 and lead["profile"] == {}
        assert lead["touchpoints"] == [] or all(t["type"] == "objected" for t in lead["touchpoints"])
    finally:
        receiver.default_status = 200
