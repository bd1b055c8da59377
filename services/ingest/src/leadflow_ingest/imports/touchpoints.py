"""A contact of an imported list as the ``event_visited`` touchpoint it is published as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from leadflow_events import Consent, LeadIdentity, LeadProfile, LegalBasis, TouchpointRecorded, TouchpointType

from leadflow_ingest.imports.contacts import Contact
from leadflow_ingest.publish import imported_event_id


@dataclass(frozen=True)
class ImportedEvent:
    """The trade fair or event the list comes from, and the import that carries it."""

    source_id: str
    name: str
    date: date
    import_id: str
    file_sha256: str
    consent_wording_version: str | None = None

    @property
    def occurred_at(self) -> datetime:
        """The event's day (00:00 UTC): a list says who was there, not when each badge was scanned."""
        return datetime.combine(self.date, time(0), UTC)

    def event_id(self, email: str) -> str:
        return imported_event_id(self.source_id, self.name, self.date, email)


def touchpoint_of(contact: Contact, event: ImportedEvent, received_at: datetime) -> TouchpointRecorded:
    properties = {**contact.properties, "event": event.name, "event_date": event.date.isoformat(), "import_id": event.import_id}
    if len(contact.consents) > 1:
        properties["consents"] = ", ".join(contact.consents)  # a touchpoint carries one consent record: the first
    return TouchpointRecorded(
        touchpoint_type=TouchpointType.EVENT_VISITED,
        occurred_at=event.occurred_at,
        identity=LeadIdentity(email=contact.email),
        profile=LeadProfile(**contact.profile),
        properties=properties,
        source_id=event.source_id,
        consent=_consent(contact, event),
        received_at=received_at,
    )


def _consent(contact: Contact, event: ImportedEvent) -> Consent | None:
    if not contact.consents:
        return None
    return Consent(
        purpose=contact.consents[0],
        legal_basis=LegalBasis.CONSENT,
        granted=True,
        wording_version=event.consent_wording_version,
        source=f"{event.name} ({event.date.isoformat()}), list import {event.import_id}"[:512],
        given_at=event.occurred_at,
        proof=f"csv sha256:{event.file_sha256[:16]} line {contact.lines[0]}",
    )
