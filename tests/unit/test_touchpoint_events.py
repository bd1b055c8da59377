"""``build_event`` validates the event as one document; it must give the very event built model by model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadflow_events import LeadIdentity, LeadProfile, TouchpointRecorded, encode_event
from leadflow_ingest.contracts import TouchpointIn
from leadflow_ingest.publish import build_event, recorded_event

NOW = datetime(2026, 11, 27, 9, 30, 0, 123456, tzinfo=UTC)
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def model_by_model(item: TouchpointIn, event_id: str, now: datetime, traceparent: str | None):
    data = TouchpointRecorded(
        touchpoint_type=item.type, occurred_at=item.occurred_at or now,
        identity=LeadIdentity(email=item.email, anonymous_id=item.anonymous_id),
        profile=LeadProfile(**item.profile.model_dump()), properties=item.properties, source_id=item.source_id,
        consent=item.consent, received_at=now,
    )
    return recorded_event(data, event_id, traceparent)


@pytest.mark.parametrize("raw", [
    {"type": "page_viewed", "email": "Ada@Example.com"},
    {"type": "page_viewed", "anonymous_id": "3f0a9c6e2b1d4c8e", "properties": {"page_url": "https://x.example/pricing"}},
    {"type": "form_submitted", "email": "ada@example.com", "anonymous_id": "abc123", "occurred_at": "2026-11-01T08:00:00+02:00",
     "source_id": "website", "event_id": "f-1",
     "profile": {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines", "job_title": "CTO",
                 "company_size": 250, "country": "DE", "industry": "software"},
     "properties": {"form": "contact", "nested": {"a": [1, 2.5, None, True]}, "n": 3}},
    {"type": "newsletter_confirmed", "email": "n@example.org",
     "consent": {"purpose": "newsletter", "granted": True, "wording_version": "v3", "source": "https://x.example/nl",
                 "given_at": "2026-11-27T09:00:00Z", "double_opt_in_confirmed_at": "2026-11-27T09:05:00Z", "proof": "tok-1"}},
    {"type": "unsubscribed", "email": "u@example.org", "consent": {"purpose": "newsletter", "granted": False}},
])
@pytest.mark.parametrize("traceparent", [None, TRACE])
def test_one_document_gives_the_same_event(raw, traceparent):
    item = TouchpointIn.model_validate(raw)
    built = build_event(item, "0b6c3c1e-9f0e-4a43-9a52-8e2d7f0c6a11", NOW, traceparent)
    reference = model_by_model(item, "0b6c3c1e-9f0e-4a43-9a52-8e2d7f0c6a11", NOW, traceparent)
    assert built == reference
    assert encode_event(built) == encode_event(reference)
    assert built.subject == reference.data.identity.lead_key
