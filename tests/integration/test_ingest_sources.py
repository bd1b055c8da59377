"""Sources, API keys, provider webhooks, HTML forms and browser events on the real broker and database."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from prometheus_client import REGISTRY
from standardwebhooks.webhooks import Webhook

from leadflow_ingest.app import create_app
from leadflow_ingest.settings import IngestSettings
from leadflow_ingest.sources_file import SourcesFileError
from tests.integration.test_ingest_support import (
    STATIC_KEY, admin, compact, events_on_topic, flip_one_byte, hubspot_headers, put_source, running_ingest,
    settings_for, typeform_headers, webflow_headers,
)

pytestmark = pytest.mark.integration

HUBSPOT_SECRET = "hubspot-client-secret-7f3a9c2e"
TYPEFORM_SECRET = "typeform-secret-2b8d4f6a1c"
WEBFLOW_SECRET = "webflow-webhook-secret-9e1d3c5b"
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PUBLIC_URL = "https://leads.example.com"
SITE = "https://www.example.com"


@pytest.fixture
async def client(test_env):
    async with running_ingest(settings_for(test_env, ingest_api_keys=[STATIC_KEY], ingest_public_url=PUBLIC_URL)) as c:
        yield c


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- admin API ---------------------------------------------------------------------------------

async def test_admin_api_is_off_without_an_admin_key_and_says_how_to_turn_it_on(test_env):
    async with running_ingest(settings_for(test_env, ingest_admin_key=None)) as client:
        r = await client.get("/v1/sources", headers=admin())
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "LEADFLOW_INGEST_ADMIN_KEY" in r.json()["detail"]


@pytest.mark.parametrize("value", ["changeme", "short", "please-changeme-now-1234"])
def test_placeholder_admin_keys_fail_start_up(value):
    with pytest.raises(ValueError, match="LEADFLOW_INGEST_ADMIN_KEY"):
        IngestSettings(ingest_admin_key=value)


async def test_sources_crud_never_returns_the_secret(client):
    sid = unique("hs")
    spec = {"id": sid, "kind": "hubspot", "name": "HubSpot", "signing_secret": HUBSPOT_SECRET,
            "field_mapping": {"firstname": "profile.first_name"}}
    no_auth = await client.post("/v1/sources", json=spec)
    wrong = await client.post("/v1/sources", json=spec, headers={"Authorization": "Bearer not-the-admin-key-000"})
    created = await client.post("/v1/sources", json=spec, headers=admin())
    again = await client.post("/v1/sources", json=spec, headers=admin())
    shown = await client.get(f"/v1/sources/{sid}", headers=admin())
    listed = await client.get("/v1/sources", headers=admin())
    replaced = await client.put(f"/v1/sources/{sid}", headers=admin(),
                                json={"kind": "hubspot", "name": "HubSpot EU", "rate_limit_per_minute": 100})
    no_secret = await client.post("/v1/sources", headers=admin(), json={"id": unique("tf"), "kind": "typeform", "name": "T"})
    bad_target = await client.put(f"/v1/sources/{unique('x')}", headers=admin(),
                                  json={"kind": "api", "name": "x", "field_mapping": {"mail": "emial"}})
    assert no_auth.status_code == 401 and wrong.status_code == 401
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/v1/sources/{sid}"
    assert again.status_code == 409 and "PUT" in again.json()["detail"]
    assert shown.json()["has_signing_secret"] is True and shown.json()["endpoint"] == f"/v1/sources/{sid}/webhook"
    assert replaced.status_code == 200 and replaced.json()["name"] == "HubSpot EU"
    assert replaced.json()["has_signing_secret"] is True  # omitted on PUT: kept
    assert replaced.json()["field_mapping"] == {}
    assert no_secret.status_code == 422 and no_secret.json()["errors"][0]["field"] == "signing_secret"
    assert bad_target.status_code == 422 and "emial" in bad_target.text
    for r in (created, shown, listed, replaced):
        assert HUBSPOT_SECRET not in r.text
    deleted = await client.delete(f"/v1/sources/{sid}", headers=admin())
    gone = await client.get(f"/v1/sources/{sid}", headers=admin())
    assert deleted.status_code == 204 and gone.status_code == 404


async def test_sources_file_is_loaded_at_start_up(test_env, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_TYPEFORM_SECRET", TYPEFORM_SECRET)
    path = tmp_path / "sources.yaml"
    path.write_text(f"""
sources:
  - id: file-form
    kind: html-form
    name: Contact form
    allowed_origins: ["{SITE}"]
    thank_you_url: {SITE}/thanks
  - id: file-typeform
    kind: typeform
    name: Typeform
    signing_secret_env: TEST_TYPEFORM_SECRET
    touchpoint_type: demo_requested
""")
    async with running_ingest(settings_for(test_env, ingest_sources_file=path)) as client:
        for _ in range(100):
            ready = await client.get("/health/ready")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
        shown = await client.get("/v1/sources/file-typeform", headers=admin())
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["sources-file"]["status"] == "pass"
    assert shown.json()["touchpoint_type"] == "demo_requested" and shown.json()["has_signing_secret"]


def test_a_wrong_sources_file_stops_start_up_naming_the_entry_and_field(test_env, tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: shop\n    kind: html-form\n    name: Shop\n    allowed_origins: [www.example.com]\n")
    with pytest.raises(SourcesFileError, match=r"sources\[0\] \(shop\)\.allowed_origins"):
        create_app(settings_for(test_env, ingest_sources_file=path))


# --- API keys ------------------------------------------------------------------------------------

async def test_source_keys_scope_revoke_and_rotate(client, test_env):
    a, b = unique("partner-a"), unique("partner-b")
    await put_source(client, a, kind="api", name="Partner A")
    await put_source(client, b, kind="api", name="Partner B")
    created = await client.post(f"/v1/sources/{a}/keys", headers=admin())
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["id"]
    assert key.startswith("lf_") and len(key) > 40
    listed = await client.get(f"/v1/sources/{a}/keys", headers=admin())
    assert key not in listed.text and listed.json()[0]["prefix"] == key[:7]

    body = {"type": "form_submitted", "email": "scoped@example.org"}
    bearer = await client.post("/v1/touchpoints", json=body, headers={"Authorization": f"Bearer {key}"})
    x_api = await client.post("/v1/touchpoints", json={**body, "source_id": a}, headers={"X-API-Key": key})
    other_source_id = await client.post("/v1/touchpoints", json={**body, "source_id": b}, headers={"X-API-Key": key})
    other_endpoint = await client.post(f"/v1/sources/{b}/touchpoints", json=body, headers={"X-API-Key": key})
    own_endpoint = await client.post(f"/v1/sources/{a}/touchpoints", json=body, headers={"X-API-Key": key})
    batch_other = await client.post("/v1/touchpoints/batch", json={"touchpoints": [body, {**body, "source_id": b}]},
                                    headers={"X-API-Key": key})
    anonymous = await client.post("/v1/touchpoints", json=body)
    static = await client.post("/v1/touchpoints", json={**body, "source_id": b}, headers={"X-API-Key": STATIC_KEY})
    assert bearer.status_code == 202 and x_api.status_code == 202 and own_endpoint.status_code == 202
    assert other_source_id.status_code == 403 and other_endpoint.status_code == 403 and batch_other.status_code == 403
    assert a in other_source_id.json()["detail"] and b in other_source_id.json()["detail"]
    assert anonymous.status_code == 401  # an admin key is set: the JSON API needs a key
    assert static.status_code == 202  # static keys stay unscoped

    events = {e.id: e for e in await events_on_topic(test_env)}
    assert events[bearer.json()["event_id"]].data.source_id == a
    assert events[static.json()["event_id"]].data.source_id == b

    rotated = (await client.post(f"/v1/sources/{a}/keys", headers=admin())).json()["key"]
    revoked = await client.delete(f"/v1/sources/{a}/keys/{key_id}", headers=admin())
    old = await client.post("/v1/touchpoints", json=body, headers={"X-API-Key": key})
    new = await client.post("/v1/touchpoints", json=body, headers={"X-API-Key": rotated})
    unknown_key = await client.delete(f"/v1/sources/{a}/keys/key_0000000000000000", headers=admin())
    assert revoked.status_code == 204
    assert old.status_code == 401 and "revoked" in old.json()["detail"]
    assert new.status_code == 202
    assert unknown_key.status_code == 404


async def test_revocation_reaches_other_instances_within_the_cache_ttl(client, test_env):
    sid = unique("api")
    await put_source(client, sid, kind="api", name="API")
    created = (await client.post(f"/v1/sources/{sid}/keys", headers=admin())).json()
    body = {"type": "page_viewed", "anonymous_id": "ttl-test"}
    async with running_ingest(settings_for(test_env, ingest_key_cache_seconds=2.0)) as other:
        first = await other.post("/v1/touchpoints", json=body, headers={"X-API-Key": created["key"]})
        await client.delete(f"/v1/sources/{sid}/keys/{created['id']}", headers=admin())
        cached = await other.post("/v1/touchpoints", json=body, headers={"X-API-Key": created["key"]})
        await asyncio.sleep(2.1)
        expired = await other.post("/v1/touchpoints", json=body, headers={"X-API-Key": created["key"]})
    assert first.status_code == 202 and cached.status_code == 202  # still within the TTL on the other instance
    assert expired.status_code == 401


# --- provider webhooks ---------------------------------------------------------------------------

def hubspot_delivery(contact: int, email: str, first_event: int) -> list[dict]:
    common = {"subscriptionId": 2400719, "portalId": 62515, "appId": 54321, "attemptNumber": 0, "objectId": contact,
              "occurredAt": int(time.time() * 1000) - 2000, "subscriptionType": "contact.propertyChange", "changeSource": "FORM"}
    return [
        {**common, "eventId": first_event, "propertyName": "email", "propertyValue": email},
        {**common, "eventId": first_event + 1, "propertyName": "firstname", "propertyValue": "Ada"},
        {**common, "eventId": first_event + 2, "propertyName": "company", "propertyValue": "Analytical Engines"},
    ]


async def test_hubspot_signature_v3_mapping_and_repeats(client, test_env):
    sid = unique("hubspot")
    await put_source(client, sid, kind="hubspot", name="HubSpot", signing_secret=HUBSPOT_SECRET,
                     field_mapping={"company": "profile.company"}, touchpoint_type="form_submitted")
    path = f"/v1/sources/{sid}/webhook"
    body = compact(hubspot_delivery(1101, "Ada@Example.com", 1953275862))
    signed = hubspot_headers(HUBSPOT_SECRET, PUBLIC_URL + path, body)

    first = await client.post(path, content=body, headers=signed)
    repeat = await client.post(path, content=body, headers=hubspot_headers(HUBSPOT_SECRET, PUBLIC_URL + path, body))
    tampered = await client.post(path, content=flip_one_byte(body), headers=signed)
    wrong_secret = await client.post(path, content=body, headers=hubspot_headers("another-secret-000000", PUBLIC_URL + path, body))
    six_minutes_ago = int(time.time() * 1000) - 6 * 60 * 1000
    stale = await client.post(path, content=body, headers=hubspot_headers(HUBSPOT_SECRET, PUBLIC_URL + path, body, at_ms=six_minutes_ago))
    unsigned = await client.post(path, content=body, headers={"Content-Type": "application/json"})

    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 1 and first.json()["duplicate"] is False
    assert repeat.status_code == 200 and repeat.json() == {**first.json(), "accepted": 0, "duplicate": True}
    for r in (tampered, wrong_secret, stale, unsigned):
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert "signing secret" in tampered.json()["detail"]
    assert stale.json()["reason"] == "stale" and "replay" in stale.json()["detail"]
    assert "X-HubSpot-Signature-v3" in unsigned.json()["detail"].replace("x-hubspot-signature-v3", "X-HubSpot-Signature-v3")

    event_id = first.json()["event_ids"][0]
    mine = [e for e in await events_on_topic(test_env) if e.id == event_id]
    assert len(mine) == 1  # the repeat published nothing
    data = mine[0].data
    assert data.identity.email == "ada@example.com" and data.identity.anonymous_id == "hubspot-62515-1101"
    assert data.profile.first_name == "Ada" and data.profile.company == "Analytical Engines"
    assert data.source_id == sid and data.touchpoint_type == "form_submitted"
    assert metric("leadflow_ingest_webhooks_rejected_total", kind="hubspot", reason="stale") >= 1


async def test_hubspot_workflow_webhook_with_flat_properties(client, test_env):
    sid = unique("hubspot-wf")
    await put_source(client, sid, kind="hubspot", name="HubSpot workflow", signing_secret=HUBSPOT_SECRET,
                     touchpoint_type="demo_requested")
    path = f"/v1/sources/{sid}/webhook"
    body = compact({"hs_object_id": 2202, "email": "grace@navy.example", "firstname": "Grace", "jobtitle": "Rear Admiral",
                    "numemployees": "5000"})
    r = await client.post(path, content=body, headers=hubspot_headers(HUBSPOT_SECRET, PUBLIC_URL + path, body))
    assert r.status_code == 200, r.text
    event = next(e for e in await events_on_topic(test_env) if e.id == r.json()["event_ids"][0])
    assert event.data.touchpoint_type == "demo_requested"
    assert event.data.profile.job_title == "Rear Admiral" and event.data.profile.company_size == 5000


def typeform_response(event_id: str, email: str) -> dict:
    return {
        "event_id": event_id, "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j", "token": "a3a12ec67a1365927098a606107fac15", "submitted_at": "2026-11-27T09:30:00Z",
            "landed_at": "2026-11-27T09:28:10Z", "hidden": {"anonymous_id": "visitor0123456789"},
            "definition": {"id": "lT4Z3j", "title": "Demo request", "fields": []},
            "answers": [
                {"type": "email", "email": email, "field": {"id": "SMEUb7VJz92Q", "type": "email", "ref": "work_email"}},
                {"type": "text", "text": "Lovelace", "field": {"id": "k6TP9oLGgHjl", "type": "short_text", "ref": "surname_ref"}},
                {"type": "choice", "choice": {"label": "51-200"}, "field": {"id": "pn48RmPazVdM", "type": "multiple_choice", "ref": "size"}},
                {"type": "boolean", "boolean": True, "field": {"id": "WOTdC00F8A3h", "type": "yes_no", "ref": "newsletter"}},
            ],
        },
    }


async def test_typeform_signature_answers_by_ref_and_repeats(client, test_env):
    sid = unique("typeform")
    await put_source(client, sid, kind="typeform", name="Typeform", signing_secret=TYPEFORM_SECRET,
                     field_mapping={"surname_ref": "profile.last_name", "size": "profile.company_size"},
                     touchpoint_type="demo_requested")
    path = f"/v1/sources/{sid}/webhook"
    body = compact(typeform_response("01JDQ6K6Y5X2R1N0M9P8Q7R6S5", "ada@example.com"))
    first = await client.post(path, content=body, headers=typeform_headers(TYPEFORM_SECRET, body))
    repeat = await client.post(path, content=body, headers=typeform_headers(TYPEFORM_SECRET, body))
    tampered = await client.post(path, content=flip_one_byte(body), headers=typeform_headers(TYPEFORM_SECRET, body))
    assert first.status_code == 200 and first.json()["accepted"] == 1
    assert repeat.status_code == 200 and repeat.json()["duplicate"] is True
    assert tampered.status_code == 401
    mine = [e for e in await events_on_topic(test_env) if e.id == first.json()["event_ids"][0]]
    assert len(mine) == 1
    data = mine[0].data
    assert data.identity.email == "ada@example.com" and data.identity.anonymous_id == "visitor0123456789"
    assert data.profile.last_name == "Lovelace"
    assert data.properties["company_size"] == "51-200"  # a range is no number: kept, not lost
    assert data.properties["newsletter"] is True and data.properties["form_id"] == "lT4Z3j"
    assert data.occurred_at.isoformat().startswith("2026-11-27T09:30:00")


async def test_webflow_signature_timestamp_and_repeats(client, test_env):
    sid = unique("webflow")
    await put_source(client, sid, kind="webflow", name="Webflow", signing_secret=WEBFLOW_SECRET,
                     field_mapping={"Company Name": "profile.company"})
    path = f"/v1/sources/{sid}/webhook"
    body = compact({"triggerType": "form_submission", "payload": {
        "name": "Contact Us", "siteId": "65427cf400e02b306eaa049c", "formId": "65429eadebe8a9f3a30f62d0",
        "id": uuid.uuid4().hex[:24], "submittedAt": "2026-11-27T09:30:00.117Z",
        "data": {"First Name": "Zaphod", "Last Name": "Beeblebrox", "email": "zaphod@heartofgold.example",
                 "Company Name": "Heart of Gold", "Phone Number": 15550000000},
        "schema": [{"fieldName": "First Name", "fieldType": "FormTextInput", "fieldElementId": "285042f7"}],
    }})
    first = await client.post(path, content=body, headers=webflow_headers(WEBFLOW_SECRET, body))
    repeat = await client.post(path, content=body, headers=webflow_headers(WEBFLOW_SECRET, body))
    tampered = await client.post(path, content=flip_one_byte(body), headers=webflow_headers(WEBFLOW_SECRET, body))
    stale = await client.post(path, content=body, headers=webflow_headers(
        WEBFLOW_SECRET, body, at_ms=int(time.time() * 1000) - 6 * 60 * 1000))
    other_trigger = compact({"triggerType": "site_publish", "payload": {}})
    ignored = await client.post(path, content=other_trigger, headers=webflow_headers(WEBFLOW_SECRET, other_trigger))
    assert first.status_code == 200 and first.json()["accepted"] == 1
    assert repeat.json()["duplicate"] is True
    assert tampered.status_code == 401 and stale.status_code == 401
    assert ignored.status_code == 200 and ignored.json() == {"accepted": 0, "duplicate": False, "event_ids": [], "ignored": 1}
    mine = [e for e in await events_on_topic(test_env) if e.id == first.json()["event_ids"][0]]
    assert len(mine) == 1
    profile = mine[0].data.profile
    assert (profile.first_name, profile.last_name, profile.company, profile.phone) == (
        "Zaphod", "Beeblebrox", "Heart of Gold", "15550000000")


async def test_standard_webhooks_verified_like_the_reference_library_signs(client, test_env):
    sid = unique("sw")
    await put_source(client, sid, kind="standard-webhooks", name="Partner CRM", signing_secret=SW_SECRET,
                     touchpoint_type="event_visited")
    path = f"/v1/sources/{sid}/webhook"
    body = compact({"type": "contact.created", "timestamp": "2026-11-27T09:30:00Z",
                    "data": {"email": "card@fair.example", "profile": {"company": "Fair GmbH", "country": "de"}}})
    msg_id = "msg_" + uuid.uuid4().hex
    now = time.time()
    from datetime import UTC, datetime

    signature = Webhook(SW_SECRET).sign(msg_id, datetime.fromtimestamp(now, UTC), body.decode())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now)), "webhook-signature": signature,
               "Content-Type": "application/json"}
    ok = await client.post(path, content=body, headers=headers)
    repeat = await client.post(path, content=body, headers=headers)
    tampered = await client.post(path, content=flip_one_byte(body), headers=headers)
    old = int(now) - 360
    stale_sig = Webhook(SW_SECRET).sign(msg_id, datetime.fromtimestamp(old, UTC), body.decode())
    stale = await client.post(path, content=body, headers={**headers, "webhook-timestamp": str(old), "webhook-signature": stale_sig})
    assert ok.status_code == 200, ok.text
    assert repeat.json()["duplicate"] is True
    assert tampered.status_code == 401 and stale.status_code == 401
    event = next(e for e in await events_on_topic(test_env) if e.id == ok.json()["event_ids"][0])
    assert event.data.profile.company == "Fair GmbH" and event.data.profile.country == "DE"
    assert event.data.properties["webhook_event_type"] == "contact.created"


async def test_webhook_limits_and_wrong_endpoints(client):
    sid, form = unique("tf-limits"), unique("form")
    await put_source(client, sid, kind="typeform", name="T", signing_secret=TYPEFORM_SECRET, rate_limit_per_minute=3)
    await put_source(client, form, kind="html-form", name="F", allowed_origins=[SITE])
    path = f"/v1/sources/{sid}/webhook"
    huge = compact(typeform_response("big", "a@b.example") | {"padding": "x" * 300_000})
    too_large = await client.post(path, content=huge, headers=typeform_headers(TYPEFORM_SECRET, huge))
    body = compact(typeform_response(uuid.uuid4().hex, "a@b.example"))
    answers = [await client.post(path, content=body, headers=typeform_headers(TYPEFORM_SECRET, body)) for _ in range(4)]
    unknown = await client.post(f"/v1/sources/{unique('nope')}/webhook", content=b"{}")
    form_webhook = await client.post(f"/v1/sources/{form}/webhook", content=b"{}")
    assert too_large.status_code == 413 and too_large.headers["content-type"] == "application/problem+json"
    assert [a.status_code for a in answers] == [200, 200, 200, 429]  # refused before reading: the 413 cost nothing
    assert answers[1].json()["duplicate"] is True
    assert int(answers[3].headers["retry-after"]) >= 1 and "3 requests a minute" in answers[3].json()["detail"]
    assert unknown.status_code == 404
    assert form_webhook.status_code == 404 and f"/v1/sources/{form}/form" in form_webhook.json()["detail"]


# --- HTML forms, browser events, CORS, snippet ---------------------------------------------------

async def test_html_form_posts_redirect_and_publish(client, test_env):
    sid = unique("site")
    await put_source(client, sid, kind="html-form", name="Website", allowed_origins=[SITE, "https://*.example.net"],
                     thank_you_url=f"{SITE}/thanks", field_mapping={"msg": "properties.message"})
    path = f"/v1/sources/{sid}/form"
    fields = {"email": "Form.User@Example.org", "firstname": "Form", "msg": "Call me", "_anonymous_id": "visitor-abcdef12", "_hp": ""}
    page = {"Origin": SITE, "Referer": f"{SITE}/contact"}
    redirected = await client.post(path, data=fields, headers=page)
    as_json = await client.post(path, data=fields, headers={**page, "Accept": "application/json"})
    multipart = await client.post(path, data=fields, files={"cv": ("cv.txt", b"not stored")},
                                  headers={"Origin": "https://shop.example.net", "Accept": "application/json"})
    referer_only = await client.post(path, data=fields, headers={"Referer": f"{SITE}/contact", "Accept": "application/json"})
    foreign = await client.post(path, data=fields, headers={"Origin": "https://evil.example"})
    no_origin = await client.post(path, data=fields)
    bad_email = await client.post(path, data={**fields, "email": "not-an-email"}, headers={**page, "Accept": "application/json"})
    as_json_body = await client.post(path, json=fields, headers=page)
    assert redirected.status_code == 303 and redirected.headers["location"] == f"{SITE}/thanks"
    assert redirected.headers["access-control-allow-origin"] == SITE
    assert as_json.status_code == 202 and as_json.json()["accepted"] is True
    assert multipart.status_code == 202, multipart.text
    assert referer_only.status_code == 202
    assert foreign.status_code == 403 and SITE in foreign.json()["detail"]
    assert no_origin.status_code == 403
    assert bad_email.status_code == 422 and bad_email.json()["errors"][0]["field"] == "email"
    assert as_json_body.status_code == 415
    event = next(e for e in await events_on_topic(test_env) if e.id == as_json.json()["event_id"])
    data = event.data
    assert data.identity.email == "form.user@example.org" and data.identity.anonymous_id == "visitor-abcdef12"
    assert data.profile.first_name == "Form" and data.properties["message"] == "Call me"
    assert data.properties["page_url"] == f"{SITE}/contact" and "_hp" not in data.properties
    assert data.source_id == sid and data.touchpoint_type == "form_submitted"


async def test_honeypot_pretends_success_and_publishes_nothing(client, test_env):
    sid = unique("site-hp")
    await put_source(client, sid, kind="html-form", name="Website", allowed_origins=[SITE], thank_you_url=f"{SITE}/thanks")
    before = metric("leadflow_ingest_spam_dropped_total", reason="honeypot")
    email = f"bot-{uuid.uuid4().hex[:6]}@spam.example"
    r = await client.post(f"/v1/sources/{sid}/form", data={"email": email, "_hp": "http://buy.example"},
                          headers={"Origin": SITE})
    assert r.status_code == 303 and r.headers["location"] == f"{SITE}/thanks"
    assert metric("leadflow_ingest_spam_dropped_total", reason="honeypot") == before + 1
    assert not [e for e in await events_on_topic(test_env) if e.data.identity.email == email]


async def test_form_rate_limit_answers_429_with_retry_after(client):
    sid = unique("site-rl")
    await put_source(client, sid, kind="html-form", name="Website", allowed_origins=[SITE], rate_limit_per_minute=2)
    answers = [await client.post(f"/v1/sources/{sid}/form", data={"email": "rl@example.org"},
                                 headers={"Origin": SITE, "Accept": "application/json"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert 28 <= int(answers[2].headers["retry-after"]) <= 30  # 2 a minute: the next token in about 30 s
    assert answers[2].headers["content-type"] == "application/problem+json"
    assert answers[2].headers["access-control-allow-origin"] == SITE  # the page's script can read why


async def test_cors_preflight_browser_events_and_snippet(client, test_env):
    sid = unique("site-ev")
    await put_source(client, sid, kind="html-form", name="Website", allowed_origins=[SITE])
    preflight = await client.options(f"/v1/sources/{sid}/events", headers={
        "Origin": SITE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    refused = await client.options(f"/v1/sources/{sid}/form", headers={"Origin": "https://evil.example"})
    view = {"type": "page_viewed", "anonymous_id": "visitor-abcdef12", "page_url": f"{SITE}/pricing?utm_source=news",
            "referrer": "https://search.example/", "title": "Pricing", "utm": {"utm_source": "news"}}
    beacon = await client.post(f"/v1/sources/{sid}/events", content=compact(view),
                               headers={"Origin": SITE, "Content-Type": "text/plain;charset=UTF-8"})
    high_trust = await client.post(f"/v1/sources/{sid}/events", json={**view, "type": "demo_requested"}, headers={"Origin": SITE})
    with_email = await client.post(f"/v1/sources/{sid}/events", json={**view, "email": "x@y.example"}, headers={"Origin": SITE})
    foreign = await client.post(f"/v1/sources/{sid}/events", json=view, headers={"Origin": "https://evil.example"})
    snippet = await client.get("/v1/snippet.js")
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE and "POST" in preflight.headers["access-control-allow-methods"]
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert beacon.status_code == 202 and beacon.headers["access-control-allow-origin"] == SITE
    assert high_trust.status_code == 422 and "page_viewed" in high_trust.text and "email_clicked" in high_trust.text
    assert with_email.status_code == 422 and foreign.status_code == 403
    assert snippet.status_code == 200 and snippet.headers["content-type"].startswith("application/javascript")
    assert b"leadflow.consent" in snippet.content
    event = next(e for e in await events_on_topic(test_env) if e.id == beacon.json()["event_id"])
    assert event.data.touchpoint_type == "page_viewed" and event.data.identity.email is None
    assert event.data.properties["utm_source"] == "news" and event.data.properties["title"] == "Pricing"
