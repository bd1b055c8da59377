"""Payload of ``leadflow.touchpoint.recorded.v1``: something a (potential) lead did."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from leadflow_events.privacy import Consent

TOUCHPOINT_RECORDED_V1 = "leadflow.touchpoint.recorded.v1"


class TouchpointType(StrEnum):
    """What happened. New types are added in a minor release; removing one is breaking."""

    FORM_SUBMITTED = "form_submitted"
    NEWSLETTER_SUBSCRIBED = "newsletter_subscribed"
    NEWSLETTER_CONFIRMED = "newsletter_confirmed"
    CONTENT_DOWNLOADED = "content_downloaded"
    PAGE_VIEWED = "page_viewed"
    WEBINAR_ATTENDED = "webinar_attended"
    EVENT_VISITED = "event_visited"
    SURVEY_COMPLETED = "survey_completed"
    SWEEPSTAKES_ENTERED = "sweepstakes_entered"
    ACCOUNT_REGISTERED = "account_registered"
    DEMO_REQUESTED = "demo_requested"
    EMAIL_CLICKED = "email_clicked"
    EMAIL_OPENED = "email_opened"
    UNSUBSCRIBED = "unsubscribed"
    OBJECTED = "objected"
    """The person objected to profiling and direct marketing (GDPR Art. 21): scoring and handover stop."""


class LeadIdentity(BaseModel):
    """Who did it: a normalised e-mail, an anonymous (cookie) id, or both."""

    model_config = ConfigDict(frozen=True)

    email: str | None = Field(default=None, description="Normalised (trimmed, lower-case) e-mail.")
    anonymous_id: str | None = Field(default=None, description="Anonymous visitor id (cookie).")

    @model_validator(mode="after")
    def _one_is_given(self) -> LeadIdentity:
        if not self.email and not self.anonymous_id:
            raise ValueError("a touchpoint needs an email or an anonymous_id")
        return self

    @property
    def lead_key(self) -> str:
        """The Kafka key and the lead's identity: e-mail when known, else the anonymous id."""
        return self.email if self.email else f"anon:{self.anonymous_id}"


class LeadProfile(BaseModel):
    """What the lead told us about themselves; every field optional, later values win."""

    model_config = ConfigDict(frozen=True)

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    company_size: int | None = Field(default=None, ge=0, description="Number of employees.")
    industry: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code.")
    phone: str | None = None


class TouchpointRecorded(BaseModel):
    """A touchpoint accepted by ingest."""

    model_config = ConfigDict(frozen=True)

    touchpoint_type: TouchpointType
    occurred_at: AwareDatetime
    identity: LeadIdentity
    profile: LeadProfile = LeadProfile()
    properties: dict[str, Any] = Field(
        default_factory=dict, description="Free properties: page_url, form_id, asset, utm_*, ..."
    )
    source_id: str | None = Field(default=None, description="The configured source it came from.")
    consent: Consent | None = Field(default=None, description="Consent given or withdrawn with this touchpoint.")
    received_at: AwareDatetime = Field(description="When ingest accepted it.")
