"""Contact-list imports on the real broker and database: upload, progress, report, re-import, resume, errors."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from leadflow_ingest.publish import imported_event_id
from tests.integration.test_ingest_support import (
    STATIC_KEY, admin, events_on_topic, put_source, running_ingest, settings_for,
)
from tests.support.stack import libpq

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
GERMAN = (FIXTURES / "hannover-messe-2026-excel.csv").read_bytes()
ENGLISH = (FIXTURES / "web-summit-2026-utf8.csv").read_bytes()
BROKEN = (FIXTURES / "broken-rows.csv").read_bytes()
STATIC = {"X-API-Key": STATIC_KEY}
EVENT_DATE = "2026-04-20"


@pytest.fixture
async def client(test_env):
    async with running_ingest(settings_for(test_env, ingest_api_keys=[STATIC_KEY])) as c:
        yield c


async def fair(client: httpx.AsyncClient, name: str = "Hannover Messe 2026") -> tuple[str, dict[str, str]]:
    """A source of its own and its issued key (as `Authorization` header)."""
    source_id = f"fair-{uuid.uuid4().hex[:8]}"
    await put_source(client, source_id, kind="api", name=name)
    key = (await client.post(f"/v1/sources/{source_id}/keys", headers=admin())).json()["key"]
    return source_id, {"Authorization": f"Bearer {key}"}


async def upload(client: httpx.AsyncClient, headers: dict[str, str], raw: bytes, name: str = "contacts.csv",
                 **form: str) -> httpx.Response:
    return await client.post("/v1/imports", headers=headers, files={"file": (name, raw, "text/csv")},
                             data={"event_date": EVENT_DATE, **form})


async def finished(client: httpx.AsyncClient, headers: dict[str, str], location: str, timeout: float = 60,
                   **params: Any) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        view = (await client.get(location, headers=headers, params=params)).json()
        if view["status"] != "running" or asyncio.get_running_loop().time() > deadline:
            return view
        await asyncio.sleep(0.05)


def generated_list(rows: int, domain: str) -> bytes:
    lines = ["E-Mail;Vorname;Nachname;Firma;Land"]
    lines += [f"person{i}@{domain};Vorname{i};Nachname{i};Firma {i % 50};DE" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


# --- the happy path ------------------------------------------------------------------------------

async def test_a_german_excel_export_becomes_event_visited_touchpoints_on_the_topic(client, test_env):
    source_id, key = await fair(client)
    before = len(await events_on_topic(test_env))
    r = await upload(client, key, GERMAN, "hannover-messe.csv", consent_wording_version="messe-2026-v1")
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/imports/{r.json()['id']}"
    assert r.json()["status"] == "running" and r.json()["source_id"] == source_id  # from the key
    view = await finished(client, key, r.headers["location"])
    assert view["status"] == "completed", view
    assert view["counts"] == {"rows": 7, "accepted": 6, "rejected": 0, "merged": 1, "blank": 1, "warnings": 0,
                              "touchpoints": 5}
    assert view["progress"] == {"phase": "finished", "rows_total": 7, "rows_checked": 7, "touchpoints_total": 5,
                                "touchpoints_published": 5}
    assert view["file"]["encoding"] == "windows-1252" and view["file"]["separator"] == ";"
    assert view["event_name"] == "Hannover Messe 2026" and view["event_date"] == EVENT_DATE  # the source's name
    assert view["report"]["items"] == [{"line": 7, "outcome": "merged", "field": "E-Mail", "merged_into": 3,
                                        "reason": "same e-mail address as line 3: combined into one touchpoint"}]

    events = (await events_on_topic(test_env, expect=before + 5))[before:]
    assert len(events) == 5
    assert {e.data.touchpoint_type for e in events} == {"event_visited"}
    juergen = next(e for e in events if e.subject == "juergen.mueller@mueller-soehne.example")
    assert juergen.id == imported_event_id(source_id, "Hannover Messe 2026", date(2026, 4, 20), juergen.subject)
    assert juergen.data.occurred_at.isoformat() == "2026-04-20T00:00:00+00:00"
    assert juergen.data.profile.first_name == "Jürgen" and juergen.data.profile.company == "Müller & Söhne GmbH"
    assert juergen.data.properties["event"] == "Hannover Messe 2026" and juergen.data.source_id == source_id
    assert juergen.data.consent.purpose == "newsletter" and juergen.data.consent.wording_version == "messe-2026-v1"
    bjoern = next(e for e in events if e.subject == "b.schaefer@grosshandel-weiss.example")
    assert bjoern.data.profile.job_title == "Leiter Einkauf und Logistik"  # the two scans, merged


async def test_importing_the_same_file_again_publishes_nothing_and_shows_the_earlier_import(client, test_env):
    source_id, key = await fair(client)
    first = await upload(client, key, ENGLISH, event_name="Web Summit 2026")
    done = await finished(client, key, first.headers["location"])
    assert done["status"] == "completed"
    on_topic = len(await events_on_topic(test_env))
    again = await upload(client, key, ENGLISH, "renamed.csv", event_name="web  summit 2026")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["status"] == "completed"
    await asyncio.sleep(0.5)
    assert len(await events_on_topic(test_env)) == on_topic


async def test_the_same_people_in_another_file_get_the_same_event_ids_so_scoring_counts_them_once(client, test_env):
    source_id, key = await fair(client)
    first = await upload(client, key, GERMAN)
    second = await upload(client, key, GERMAN + "Herr;Neu;Neu;Neu AG;;neu@neu.example;;;;;;;;\r\n".encode("cp1252"))
    assert second.json()["id"] != first.json()["id"]
    for r in (first, second):
        assert (await finished(client, key, r.headers["location"]))["status"] == "completed"
    mine = [e for e in await events_on_topic(test_env) if e.data.source_id == source_id]
    ids = {}
    for event in mine:
        ids.setdefault(event.subject, set()).add(event.id)
    assert len(mine) == 11 and len(ids) == 6
    assert all(len(v) == 1 for v in ids.values())  # one event id per person and event, whichever file


async def test_broken_rows_are_reported_page_by_page_and_the_rest_is_imported(client):
    _, key = await fair(client)
    r = await upload(client, key, BROKEN)
    view = await finished(client, key, r.headers["location"], limit=3)
    assert view["status"] == "completed" and view["counts"]["touchpoints"] == 4
    assert view["counts"]["rejected"] == 5 and view["counts"]["warnings"] == 3 and view["counts"]["merged"] == 1
    assert view["report"]["total"] == 9 and view["report"]["limit"] == 3 and len(view["report"]["items"]) == 3
    rest = (await client.get(r.headers["location"], headers=key, params={"offset": 3, "limit": 100})).json()["report"]
    items = view["report"]["items"] + rest["items"]
    assert [(i["line"], i["outcome"]) for i in items] == [
        (3, "rejected"), (4, "rejected"), (5, "warning"), (5, "warning"), (5, "warning"), (6, "rejected"),
        (9, "merged"), (10, "rejected"), (12, "rejected")]
    assert items[0]["field"] == "E-Mail" and items[0]["reason"] == "missing e-mail address"


async def test_an_explicit_mapping_and_a_static_key_naming_the_source(client, test_env):
    source_id, _ = await fair(client)
    raw = "Kontakt;Messestand;Rückruf gewünscht\nada@lovelace.example;B12;ja\n".encode()
    r = await upload(client, STATIC, raw, source_id=source_id, event_name="Hausmesse",
                     mapping='{"Kontakt": "email", "Messestand": "properties.booth"}')
    view = await finished(client, STATIC, r.headers["location"])
    assert view["status"] == "completed", view
    assert view["columns"] == [
        {"column": "Kontakt", "maps_to": "email", "by": "mapping"},
        {"column": "Messestand", "maps_to": "properties.booth", "by": "mapping"},
        {"column": "Rückruf gewünscht", "maps_to": "consent.sales_contact", "by": "name"}]
    event = next(e for e in await events_on_topic(test_env) if e.data.source_id == source_id)
    assert event.data.properties["booth"] == "B12" and event.data.consent.purpose == "sales_contact"


# --- refusals -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "form", "field", "words"), [
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), {}, "file", "Excel workbook"),
    (b"Vorname;Nachname;Kontakt\nAda;Lovelace;ada@example.com\n", {}, "file", "--mapping 'Kontakt=email'"),
    (b"E-Mail;Firma\n", {}, "file", "no contacts"),
    (b"", {}, "file", "empty"),
    (b"E-Mail\na@b.example\n", {"mapping": "{not json"}, "mapping", "not JSON"),
    (b"E-Mail\na@b.example\n", {"mapping": '{"Stand": "properties.booth"}'}, "mapping.Stand", "no such column"),
    (b"E-Mail\na@b.example\n", {"mapping": '{"E-Mail": "emial"}'}, "mapping.E-Mail", "unknown target"),
    (b"E-Mail\na@b.example\n", {"event_date": (date.today() + timedelta(days=30)).isoformat()}, "event_date", "future"),
    (b"E-Mail\na@b.example\n", {"event_date": "20.04.2026"}, "event_date", "date"),
])
async def test_files_and_forms_that_cannot_be_imported_get_a_422_saying_what_to_do(client, raw, form, field, words):
    _, key = await fair(client)
    r = await upload(client, key, raw, **form)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert words.lower() in problem["detail"].lower() + str(problem["errors"]).lower(), problem
    assert any(e["field"] == field for e in problem["errors"]), problem


async def test_keys_sources_and_sizes(client, test_env):
    source_id, key = await fair(client)
    other_id, other_key = await fair(client)
    wrong = await upload(client, key, GERMAN, source_id=other_id)
    unknown = await upload(client, STATIC, GERMAN, source_id="no-such-fair")
    unnamed = await upload(client, STATIC, GERMAN)
    anonymous = await upload(client, {}, GERMAN, source_id=source_id)
    assert wrong.status_code == 403 and other_id in wrong.json()["detail"]
    assert unknown.status_code == 404
    assert unnamed.status_code == 422 and "--source" in unnamed.json()["detail"]
    assert anonymous.status_code == 401
    mine = await upload(client, key, GERMAN)
    assert (await client.get(mine.headers["location"], headers=other_key)).status_code == 404  # another source's
    assert (await client.get(mine.headers["location"], headers=STATIC)).status_code == 200
    assert (await client.get("/v1/imports/imp_0000000000000000", headers=STATIC)).status_code == 404
    async with running_ingest(settings_for(test_env, ingest_api_keys=[STATIC_KEY], ingest_max_import_bytes=4096)) as small:
        too_large = await upload(small, STATIC, GERMAN * 8, source_id=source_id)
    assert too_large.status_code == 413 and too_large.headers["content-type"] == "application/problem+json"
    assert "split the file" in too_large.json()["detail"]


# --- interruptions ---------------------------------------------------------------------------------

async def test_an_import_kafka_did_not_take_fails_and_continues_when_uploaded_again(test_env):
    raw = generated_list(300, f"kafka-{uuid.uuid4().hex[:6]}.example")
    async with running_ingest(settings_for(test_env, ingest_api_keys=[STATIC_KEY])) as client:
        source_id, _ = await fair(client)
    down = settings_for(test_env, ingest_api_keys=[STATIC_KEY], kafka_bootstrap="127.0.0.1:1", ingest_import_retry_seconds=1)
    async with running_ingest(down) as client:
        r = await upload(client, STATIC, raw, source_id=source_id)
        assert r.status_code == 202
        failed = await finished(client, STATIC, r.headers["location"])
    assert failed["status"] == "failed" and "Kafka did not acknowledge" in failed["error"]
    assert "Upload the same file again" in failed["error"] and failed["progress"]["touchpoints_published"] == 0
    async with running_ingest(settings_for(test_env, ingest_api_keys=[STATIC_KEY])) as client:
        again = await upload(client, STATIC, raw, source_id=source_id)
        assert again.status_code == 202 and again.json()["id"] == r.json()["id"] and again.json()["attempt"] == 2
        done = await finished(client, STATIC, again.headers["location"])
    assert done["status"] == "completed" and done["error"] is None and done["progress"]["touchpoints_published"] == 300
    assert len([e for e in await events_on_topic(test_env) if e.data.source_id == source_id]) == 300


async def test_an_import_stopped_half_way_continues_at_its_cursor_without_publishing_all_again(test_env):
    total, chunk = 20_000, 1000
    raw = generated_list(total, f"halfway-{uuid.uuid4().hex[:6]}.example")
    async with running_ingest(settings_for(test_env, ingest_api_keys=[STATIC_KEY])) as client:
        source_id, _ = await fair(client)
        client.app.state.import_runner.progress_every = 0.0  # save the cursor after every chunk
        r = await upload(client, STATIC, raw, source_id=source_id)
        while (await client.get(r.headers["location"], headers=STATIC)).json()["progress"]["touchpoints_published"] == 0:
            await asyncio.sleep(0.01)
    # leaving the block stopped ingest in the middle of the import
    stopped = (await running_get(test_env, r.headers["location"]))
    cursor = stopped["progress"]["touchpoints_published"]
    assert stopped["status"] == "failed" and "interrupted" in stopped["error"], stopped
    assert 0 < cursor < total
    on_topic_before = len([e for e in await events_on_topic(test_env) if e.data.source_id == source_id])
    async with running_ingest(settings_for(test_env, ingest_api_keys=[STATIC_KEY])) as client:
        again = await upload(client, STATIC, raw, source_id=source_id)
        assert again.json()["attempt"] == 2 and again.json()["progress"]["touchpoints_published"] == cursor
        done = await finished(client, STATIC, again.headers["location"])
    assert done["status"] == "completed" and done["progress"]["touchpoints_published"] == total
    mine = [e for e in await events_on_topic(test_env, expect=on_topic_before + total - cursor)
            if e.data.source_id == source_id]
    assert len({e.id for e in mine}) == total  # every person once
    assert len(mine) == on_topic_before + total - cursor  # the second run started at the cursor
    assert on_topic_before <= cursor + chunk  # at most the chunk in flight was sent without being counted


async def running_get(test_env, location: str) -> dict[str, Any]:
    async with running_ingest(settings_for(test_env, ingest_api_keys=[STATIC_KEY])) as client:
        return (await client.get(location, headers=STATIC)).json()


async def test_a_run_that_went_quiet_shows_as_interrupted_and_is_taken_over(client, test_env):
    source_id, key = await fair(client)
    r = await upload(client, key, ENGLISH)
    assert (await finished(client, key, r.headers["location"]))["status"] == "completed"
    conn = await asyncpg.connect(libpq(test_env.database_url))
    try:  # what a kill -9 in the middle leaves behind: running, and no progress for a minute
        await conn.execute("UPDATE ingest.imports SET status = 'running', phase = 'publishing', touchpoints_published = 2, "
                           "finished_at = NULL, updated_at = now() - interval '1 minute' WHERE id = $1", r.json()["id"])
    finally:
        await conn.close()
    quiet = (await client.get(r.headers["location"], headers=key)).json()
    assert quiet["status"] == "failed" and quiet["error"].startswith("interrupted")
    again = await upload(client, key, ENGLISH)
    assert again.status_code == 202 and again.json()["attempt"] == 2
    done = await finished(client, key, again.headers["location"])
    assert done["status"] == "completed" and done["progress"]["touchpoints_published"] == 4
