"""``POST /v1/sources/{id}/webhook``: provider webhooks, signature first, then one touchpoint per provider event.

A provider's repeated event becomes the same touchpoint event id (uuid5 of source id and
provider event id), so scoring drops it even if it were published twice; the ids seen are
also kept for a while (``ingest.provider_events``) so a repeat is answered
``{"duplicate": true}`` without publishing again.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from prometheus_client import Counter

from leadflow_runtime.errors import is_transient
from leadflow_runtime.logs import get_logger
from leadflow_runtime.problems import Problem

from leadflow_ingest.adapters.store import SourceStore
from leadflow_ingest.contracts import WebhookAccepted
from leadflow_ingest.deps import SourceId, publish_or_503, source_or_404, take_rate_limit, wrong_endpoint
from leadflow_ingest.mapping import build_touchpoint
from leadflow_ingest.problem_docs import problems
from leadflow_ingest.providers import PayloadRejected, extract
from leadflow_ingest.publish import encode_touchpoint, event_id_for, utcnow
from leadflow_ingest.signatures import (
    SignatureRejected, verify_hubspot_v3, verify_standard_webhooks, verify_typeform, verify_webflow,
)
from leadflow_ingest.sources import PROVIDER_KINDS, Source, SourceKind

log = get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["provider webhooks"])

WEBHOOKS_REJECTED = Counter(
    "leadflow_ingest_webhooks_rejected_total", "Provider webhooks refused because of their signature.", ["kind", "reason"]
)
DUPLICATES = Counter("leadflow_ingest_webhook_duplicates_total", "Provider events received again and not republished.", ["kind"])

EXAMPLE_BODIES: dict[str, Any] = {
    "hubspot": {"summary": "HubSpot: contact events (Webhooks API)", "value": [
        {"eventId": 1953275862, "subscriptionId": 2400719, "portalId": 62515, "appId": 54321, "occurredAt": 1764235800000,
         "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 1101, "propertyName": "email",
         "propertyValue": "ada@example.com", "changeSource": "FORM"},
    ]},
    "typeform": {"summary": "Typeform: form_response", "value": {
        "event_id": "01JDQ6K6Y5X2R1N0M9P8Q7R6S5", "event_type": "form_response",
        "form_response": {"form_id": "lT4Z3j", "token": "a3a12ec67a1365927098a606107fac15",
                          "submitted_at": "2026-11-27T09:30:00Z", "hidden": {"anonymous_id": "3f0a9c6e2b1d4c8e"},
                          "answers": [{"type": "email", "email": "ada@example.com", "field": {"id": "SMEUb7VJz92Q", "type": "email", "ref": "work_email"}},
                                      {"type": "text", "text": "Analytical Engines", "field": {"id": "k6TP9oLGgHjl", "type": "short_text", "ref": "company"}}]},
    }},
    "webflow": {"summary": "Webflow: form_submission", "value": {
        "triggerType": "form_submission",
        "payload": {"name": "Contact Us", "siteId": "65427cf400e02b306eaa049c", "formId": "65429eadebe8a9f3a30f62d0",
                    "id": "6321ca84df3949bfc6752327", "submittedAt": "2026-11-27T09:30:00.117Z",
                    "data": {"First Name": "Ada", "Last Name": "Lovelace", "email": "ada@example.com"}},
    }},
    "standard-webhooks": {"summary": "Standard Webhooks: any signed JSON", "value": {
        "type": "contact.created", "timestamp": "2026-11-27T09:30:00Z",
        "data": {"email": "ada@example.com", "first_name": "Ada", "company": "Analytical Engines"},
    }},
}


def _signed_uri(request: Request) -> str:
    public = request.app.state.settings.ingest_public_url
    if not public:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public}{request.url.path}{query}"


def verify(source: Source, request: Request, body: bytes) -> None:
    if not source.signing_secret:
        raise SignatureRejected("missing", f"Source `{source.id}` has no signing_secret; add the provider's webhook secret to it.")
    settings = request.app.state.settings
    secret, headers, now, tolerance = source.signing_secret, request.headers, time.time(), settings.ingest_signature_tolerance_seconds
    if source.kind == SourceKind.HUBSPOT:
        verify_hubspot_v3(secret, headers, request.method, _signed_uri(request), body, now, tolerance)
    elif source.kind == SourceKind.TYPEFORM:
        verify_typeform(secret, headers, body)
    elif source.kind == SourceKind.WEBFLOW:
        verify_webflow(secret, headers, body, now, tolerance)
    else:
        verify_standard_webhooks(secret, headers, body, now, tolerance)


@router.post(
    "/sources/{source_id}/webhook", response_model=WebhookAccepted,
    responses=problems(400, 401, 404, 413, 422, 429, 503),
    summary="Receive a provider webhook (HubSpot, Typeform, Webflow, Standard Webhooks)",
    description="Checks the provider's signature over the raw body (and its timestamp, where the provider sends one: "
    "5 minutes at most), maps each event through the source's field mapping and answers 200 once Kafka acknowledged. "
    "A repeated provider event id answers 200 with `duplicate: true` and publishes nothing.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"description": "The provider's webhook body, unchanged.",
                   "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
        "examples": EXAMPLE_BODIES,
    }}}},
)
async def receive_webhook(source_id: SourceId, request: Request) -> WebhookAccepted:
    source = await source_or_404(request, source_id)
    if source.kind not in PROVIDER_KINDS:
        raise wrong_endpoint(source)
    body = await request.body()
    try:
        verify(source, request, body)
    except SignatureRejected as exc:
        WEBHOOKS_REJECTED.labels(source.kind.value, exc.reason).inc()
        log.warning("webhook signature refused", source_id=source.id, kind=source.kind.value, reason=exc.reason)
        raise Problem(401, exc.detail, type_="https://leadflow.dev/problems/bad-signature", reason=exc.reason) from exc
    take_rate_limit(request, source)  # after the signature: forged requests cannot use up the provider's budget
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, f"The body is not valid JSON: {exc}.", type_="https://leadflow.dev/problems/bad-json") from exc
    try:
        extracted = extract(source.kind, parsed, body, request.headers)
    except PayloadRejected as exc:
        raise Problem(422, f"This is not a {source.kind} webhook body: {exc}.", type_="https://leadflow.dev/problems/validation",
                      errors=[{"in": "body", "field": "<root>", "message": str(exc)}]) from exc
    touchpoints = [
        build_touchpoint(s.fields, source, defaults=s.defaults, occurred_at=s.occurred_at, properties=s.properties,
                         event_id=s.event_id)
        for s in extracted.submissions
    ]
    store: SourceStore = request.app.state.store
    provider_ids = [s.event_id for s in extracted.submissions]
    seen = await _seen(store, source.id, provider_ids)
    now = utcnow()
    fresh = [(s.event_id, tp) for s, tp in zip(extracted.submissions, touchpoints, strict=True) if s.event_id not in seen]
    events = [encode_touchpoint(tp, event_id_for(tp, None), now, None) for _, tp in fresh]
    if events:
        await publish_or_503(request, events)
        await _remember(store, source.id, [(pid, e.id) for (pid, _), e in zip(fresh, events, strict=True)])
    if seen:
        DUPLICATES.labels(source.kind.value).inc(len(seen))
    event_ids = [event_id_for(tp, None) for tp in touchpoints]
    return WebhookAccepted(accepted=len(events), duplicate=bool(touchpoints) and not events, event_ids=event_ids,
                           ignored=extracted.ignored)


async def _seen(store: SourceStore, source_id: str, provider_ids: list[str]) -> set[str]:
    """Seen before; when PostgreSQL is away, nothing is: the deterministic event id still dedupes downstream."""
    try:
        return set(await store.seen_provider_events(source_id, provider_ids))
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("provider event ids cannot be checked; publishing (scoring drops repeats by id)", error=str(exc)[:200])
        return set()


async def _remember(store: SourceStore, source_id: str, published: list[tuple[str, str]]) -> None:
    try:
        await store.record_provider_events(source_id, published)
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("provider event ids not recorded", error=str(exc)[:200])
