"""What each provider's webhook body says, as submissions: an event id, named fields and a time.

Pure functions over the parsed JSON body; the field mapping is applied afterwards
(``mapping.py``), the same way for every provider.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadflow_ingest.sources import SourceKind


class PayloadRejected(ValueError):
    """The body is not what the provider sends (a wrong source kind, or not a webhook at all)."""


@dataclass(frozen=True)
class Submission:
    event_id: str
    """The provider's id of the event; repeats of it are one touchpoint."""
    fields: dict[str, Any]
    occurred_at: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    """Targets for fields the source's mapping does not name (e.g. a Typeform e-mail answer -> email)."""


@dataclass(frozen=True)
class Extracted:
    submissions: list[Submission]
    ignored: int = 0


def body_digest(raw: bytes) -> str:
    """For senders without event ids: a redelivery carries the same body."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _millis(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 10**14:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _object(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise PayloadRejected(f"{what} must be a JSON object")
    return body


# --- HubSpot -------------------------------------------------------------------------------

_HUBSPOT_CONTACT_TYPES = {"contact.creation", "contact.propertyChange"}


def _hubspot_contact_event(event: Mapping[str, Any]) -> bool:
    kind = event.get("subscriptionType")
    if kind in _HUBSPOT_CONTACT_TYPES:
        return True
    return kind in ("object.creation", "object.propertyChange") and event.get("objectTypeId") == "0-1"


def hubspot(body: Any, raw: bytes) -> Extracted:
    """Webhooks API deliveries (a JSON array of contact events) or a workflow "Send a webhook" body (an object).

    Events of one delivery about the same contact become one touchpoint carrying every
    changed property; the contact is also identified as ``hubspot-<portal>-<contact>`` so
    later events that carry the e-mail link to it.
    """
    if isinstance(body, list):
        groups: dict[tuple[Any, Any], list[Mapping[str, Any]]] = {}
        ignored = 0
        for event in body:
            if not isinstance(event, Mapping) or "eventId" not in event or not _hubspot_contact_event(event):
                ignored += 1
                continue
            groups.setdefault((event.get("portalId"), event.get("objectId")), []).append(event)
        submissions = []
        for (portal, contact), events in groups.items():
            ids = sorted(str(e["eventId"]) for e in events)
            fields: dict[str, Any] = {"hubspot_contact": f"hubspot-{portal}-{contact}"}
            for e in events:
                if str(e.get("subscriptionType", "")).endswith("propertyChange") and isinstance(e.get("propertyName"), str):
                    fields[e["propertyName"]] = e.get("propertyValue")
            times = [t for t in (_millis(e.get("occurredAt")) for e in events) if t]
            event_id = ids[0] if len(ids) == 1 else "events:" + hashlib.sha256(",".join(ids).encode()).hexdigest()[:40]
            submissions.append(Submission(
                event_id=event_id, fields=fields, occurred_at=max(times) if times else None,
                properties={"hubspot_portal_id": portal, "hubspot_contact_id": contact,
                            "hubspot_events": sorted({str(e.get("subscriptionType")) for e in events})},
                defaults={"hubspot_contact": "anonymous_id"},
            ))
        return Extracted(submissions, ignored)
    data = _object(body, "a HubSpot webhook body")
    properties: dict[str, Any] = {}
    if isinstance(data.get("values"), list):  # a form submission as the Forms API lists it
        fields = {v["name"]: v.get("value") for v in data["values"] if isinstance(v, Mapping) and isinstance(v.get("name"), str)}
        event_id = str(data.get("conversionId") or body_digest(raw))
        occurred = _millis(data.get("submittedAt"))
        if isinstance(data.get("pageUrl"), str):
            properties["page_url"] = data["pageUrl"]
    elif isinstance(data.get("properties"), Mapping):  # a contact record: {"vid": 1, "properties": {"email": {"value": ...}}}
        fields = {k: (v.get("value") if isinstance(v, Mapping) else v) for k, v in data["properties"].items()}
        event_id = body_digest(raw)
        occurred = None
    else:  # a workflow webhook with the chosen properties as a flat object
        fields = {k: v for k, v in data.items() if not isinstance(v, Mapping | list)}
        event_id = body_digest(raw)
        occurred = None
    contact = data.get("vid") or data.get("objectId") or fields.get("hs_object_id")
    defaults = {}
    if contact is not None:
        fields["hubspot_contact"] = f"hubspot-{data.get('portal-id') or data.get('portalId') or 'x'}-{contact}"
        defaults["hubspot_contact"] = "anonymous_id"
        fields.pop("hs_object_id", None)
    return Extracted([Submission(event_id, fields, occurred, properties, defaults)])


# --- Typeform ------------------------------------------------------------------------------

def _typeform_answer(answer: Mapping[str, Any]) -> Any:
    kind = answer.get("type")
    if kind == "choice":
        choice = answer.get("choice") or {}
        return choice.get("label") or choice.get("other")
    if kind == "choices":
        choices = answer.get("choices") or {}
        return [*(choices.get("labels") or []), *([choices["other"]] if choices.get("other") else [])]
    if kind == "payment":
        return None
    return answer.get(kind) if isinstance(kind, str) else None


def typeform(body: Any, raw: bytes) -> Extracted:
    """``form_response`` events: answers by field ``ref``, hidden fields by name."""
    data = _object(body, "a Typeform webhook body")
    if data.get("event_type") != "form_response":
        return Extracted([], 1)
    response = _object(data.get("form_response"), "form_response")
    fields: dict[str, Any] = {}
    defaults: dict[str, str] = {}
    for answer in response.get("answers") or []:
        if not isinstance(answer, Mapping) or not isinstance(answer.get("field"), Mapping):
            continue
        ref = answer["field"].get("ref") or answer["field"].get("id")
        if not isinstance(ref, str):
            continue
        fields[ref] = _typeform_answer(answer)
        if answer.get("type") == "email":
            defaults.setdefault(ref, "email")
        elif answer.get("type") == "phone_number":
            defaults.setdefault(ref, "profile.phone")
    for name, value in (response.get("hidden") or {}).items():
        fields.setdefault(name, value)
    event_id = str(data.get("event_id") or response.get("token") or body_digest(raw))
    properties = {"form_id": response.get("form_id"), "typeform_token": response.get("token")}
    return Extracted([Submission(event_id, fields, _iso(response.get("submitted_at")),
                                 {k: v for k, v in properties.items() if v}, defaults)])


# --- Webflow -------------------------------------------------------------------------------

def webflow(body: Any, raw: bytes) -> Extracted:
    """``form_submission`` events: ``payload.data`` holds the fields by their names on the form."""
    data = _object(body, "a Webflow webhook body")
    if data.get("triggerType") != "form_submission":
        return Extracted([], 1)
    payload = _object(data.get("payload"), "payload")
    fields = dict(_object(payload.get("data") or {}, "payload.data"))
    event_id = str(payload.get("id") or payload.get("_id") or body_digest(raw))
    properties = {"form_name": payload.get("name"), "form_id": payload.get("formId"),
                  "webflow_site_id": payload.get("siteId")}
    occurred = _iso(payload.get("submittedAt") or payload.get("d"))
    return Extracted([Submission(event_id, fields, occurred, {k: v for k, v in properties.items() if v})])


# --- Standard Webhooks -----------------------------------------------------------------------

def _flatten(data: Mapping[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < 3:
            flat.update(_flatten(value, f"{name}.", depth + 1))
        else:
            flat[name] = value
    return flat


def standard_webhooks(body: Any, raw: bytes, message_id: str) -> Extracted:
    """Any sender that signs per Standard Webhooks: fields of ``data`` (or the whole body), nested names dotted."""
    data = _object(body, "the webhook body")
    inner = data.get("data") if isinstance(data.get("data"), Mapping) else data
    properties = {"webhook_event_type": data["type"]} if inner is not data and isinstance(data.get("type"), str) else {}
    occurred = _iso(data.get("timestamp")) if inner is not data else None
    return Extracted([Submission(message_id, _flatten(inner), occurred, properties)])


def extract(kind: SourceKind, body: Any, raw: bytes, headers: Mapping[str, str]) -> Extracted:
    if kind == SourceKind.HUBSPOT:
        return hubspot(body, raw)
    if kind == SourceKind.TYPEFORM:
        return typeform(body, raw)
    if kind == SourceKind.WEBFLOW:
        return webflow(body, raw)
    if kind == SourceKind.STANDARD_WEBHOOKS:
        return standard_webhooks(body, raw, headers.get("webhook-id", ""))
    raise PayloadRejected(f"a {kind} source has no webhook")
