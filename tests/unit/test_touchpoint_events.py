"""``encode_touchpoint`` (no models) and ``build_event`` (that encoding decoded) must give the very event, byte for
byte, that building the models one by one gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from leadflow_events import LeadIdentity, LeadProfile, TouchpointRecorded, encode_event
from leadflow_ingest.contracts import TouchpointIn
from leadflow_ingest.publish import EncodedTouchpoint, build_event, encode_touchpoint, recorded_event

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


@pytest.mark.parametrize("raw", [
    {"type": "page_viewed", "email": "Ada@Example.com"},
    {"type": "page_viewed", "anonymous_id": "3f0a9c6e2b1d4c8e", "properties": {"page_url": "https://x.example/pricing"}},
    {"type": "form_submitted", "email": "ada@example.com", "anonymous_id": "abc123", "occurred_at": "2026-11-01T08:00:00+02:00",
     "source_id": "website", "event_id": "f-1",
     "profile": {"first_name": " Ada ", "company": "Engines", "company_size": 250, "country": "de", "phone": "+49 30 1"},
     "properties": {"form": "contact", "nested": {"a": [1, 2.5, None, True, 1e16, -0.0]}, "ü": "ß"}},
    {"type": "newsletter_confirmed", "email": "n@example.org", "occurred_at": "2026-11-27T09:00:00.5-05:30",
     "consent": {"purpose": "newsletter", "wording_version": "v3", "given_at": "2026-11-27T09:00:00Z",
                 "double_opt_in_confirmed_at": "2026-11-27T09:05:00.000001+01:00", "proof": "tok-1"}},
])
@pytest.mark.parametrize("traceparent", [None, TRACE])
def test_the_encoded_touchpoint_is_the_encoded_event(raw, traceparent):
    item = TouchpointIn.model_validate(raw)
    record = encode_touchpoint(item, "0b6c3c1e-9f0e-4a43-9a52-8e2d7f0c6a11", NOW, traceparent)
    event = build_event(item, "0b6c3c1e-9f0e-4a43-9a52-8e2d7f0c6a11", NOW, traceparent)
    assert record.value == encode_event(event)
    assert record == EncodedTouchpoint.of(event)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    properties=st.dictionaries(st.text(min_size=1, max_size=12), JSON_VALUES, max_size=6),
    occurred_at=st.none() | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                                         timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)),
                                                                    timezone(timedelta(hours=-5, minutes=-30))])),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
)
def test_any_properties_and_times_encode_alike(properties, occurred_at, now):
    raw = {"type": "content_downloaded", "email": "x@example.com", "properties": properties}
    if occurred_at is not None:
        raw["occurred_at"] = occurred_at.isoformat()
    try:
        item = TouchpointIn.model_validate(raw)
    except ValidationError:
        return  # the contract refuses it (too large, too deep): nothing is encoded either way
    assert encode_touchpoint(item, "e-1", now, None).value == encode_event(build_event(item, "e-1", now, None))
