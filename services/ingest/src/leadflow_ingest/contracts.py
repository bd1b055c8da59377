"""HTTP request and response bodies of the ingest API (not the event payloads, not storage)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from leadflow_events import Consent, TouchpointType

from leadflow_ingest.emails import InvalidEmail, normalise_email

MAX_TEXT = 256


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    first_name: str | None = Field(default=None, max_length=MAX_TEXT)
    last_name: str | None = Field(default=None, max_length=MAX_TEXT)
    company: str | None = Field(default=None, max_length=MAX_TEXT)
    job_title: str | None = Field(default=None, max_length=MAX_TEXT)
    company_size: int | None = Field(default=None, ge=0, le=10_000_000)
    industry: str | None = Field(default=None, max_length=MAX_TEXT)
    country: str | None = Field(default=None, min_length=2, max_length=2, description="ISO 3166-1 alpha-2.")
    phone: str | None = Field(default=None, max_length=64)

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class TouchpointIn(BaseModel):
    """One touchpoint as a website, form tool or script sends it."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "form_submitted",
                    "email": "Ada.Lovelace@Example.com",
                    "occurred_at": "2026-11-27T09:30:00Z",
                    "profile": {"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines Ltd",
                                "job_title": "Head of Engineering", "company_size": 120, "country": "GB"},
                    "properties": {"form_id": "contact", "page_url": "https://example.com/contact"},
                }
            ]
        },
    )

    type: TouchpointType = Field(description="What happened.")
    email: str | None = Field(default=None, max_length=320, description="The lead's e-mail; normalised to lower case.")
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=128, description="Anonymous visitor id (cookie).")
    occurred_at: AwareDatetime | None = Field(default=None, description="When it happened (RFC 3339 with offset); now when omitted.")
    event_id: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="The sender's own id for this touchpoint; a repeat with the same id is not counted twice.",
    )
    source_id: str | None = Field(default=None, max_length=128)
    consent: Consent | None = Field(default=None, description="Consent given or withdrawn with this touchpoint (proof, no IP).")
    profile: ProfileIn = ProfileIn()
    properties: dict[str, Any] = Field(default_factory=dict, description="Free properties (page_url, form_id, asset, utm_*).")

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return normalise_email(value)
        except InvalidEmail as exc:
            raise ValueError(f"not a valid e-mail address: {exc}") from exc

    @field_validator("properties")
    @classmethod
    def _small_properties(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > 50:
            raise ValueError("at most 50 properties")
        for key, item in value.items():
            if len(key) > 64:
                raise ValueError(f"property name {key[:20]!r}... is longer than 64 characters")
            if isinstance(item, str) and len(item) > 2048:
                raise ValueError(f"property {key!r} is longer than 2048 characters")
        return value

    @model_validator(mode="after")
    def _identified(self) -> TouchpointIn:
        if not self.email and not self.anonymous_id:
            raise ValueError("give an email or an anonymous_id, so the touchpoint can be attributed to a lead")
        return self


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"touchpoints": [
        {"type": "event_visited", "email": "card.one@fair.example", "event_id": "fair-2026-0001",
         "profile": {"company": "Fair GmbH", "country": "DE"}, "properties": {"event": "Hannover Messe"}},
        {"type": "page_viewed", "anonymous_id": "3f0a9c6e2b1d4c8e", "properties": {"page_url": "https://example.com/pricing"}},
    ]}]})

    touchpoints: list[TouchpointIn] = Field(min_length=1, description="Up to 500 touchpoints.")


class Accepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"event_id": "0b6c3c1e-9f0e-4a43-9a52-8e2d7f0c6a11", "lead_key": "ada.lovelace@example.com"}
    ]})

    event_id: str = Field(description="The id of the recorded touchpoint event.")
    lead_key: str = Field(description="The key the touchpoint was filed under (e-mail or anon:<id>).")


class BatchAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"accepted": 2, "event_ids": ["0b6c3c1e-9f0e-5a43-9a52-8e2d7f0c6a11", "5d1f7e2a-3c4b-4d5e-8f6a-7b8c9d0e1f2a"]}
    ]})

    accepted: int
    event_ids: list[str]


class WebhookAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"accepted": 1, "duplicate": False, "event_ids": ["0b6c3c1e-9f0e-5a43-9a52-8e2d7f0c6a11"], "ignored": 0}
    ]})

    accepted: int = Field(description="Touchpoints published now.")
    duplicate: bool = Field(description="True when every event in the delivery had been received before (nothing new published).")
    event_ids: list[str] = Field(description="Touchpoint event ids of the delivery's events, repeats included.")
    ignored: int = Field(default=0, description="Events that carry no touchpoint (other event types, test pings).")


class FormAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted": True, "event_id": "0b6c3c1e-9f0e-4a43-9a52-8e2d7f0c6a11"}]})

    accepted: bool = True
    event_id: str


BROWSER_TYPES = ("page_viewed", "email_clicked")


class BrowserEventIn(BaseModel):
    """A low-trust event from a web page (the snippet): only an anonymous id, never an e-mail."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True,
        json_schema_extra={"examples": [{
            "type": "page_viewed", "anonymous_id": "3f0a9c6e-2b1d-4c8e-9f4a-7d6b5e4c3a21",
            "page_url": "https://www.example.com/pricing", "referrer": "https://www.google.com/", "title": "Pricing",
        }]},
    )

    type: Literal["page_viewed", "email_clicked"] = Field(description="Browser endpoints accept only these low-trust types.")
    anonymous_id: str = Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$", description="The snippet's visitor id.")
    page_url: str | None = Field(default=None, max_length=2048)
    referrer: str | None = Field(default=None, max_length=2048)
    title: str | None = Field(default=None, max_length=256)
    utm: dict[str, Annotated[str, Field(max_length=256)]] = Field(
        default_factory=dict, max_length=10, description="utm_source, utm_medium, utm_campaign, ... of the page URL.",
    )

    @field_validator("utm")
    @classmethod
    def _utm_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not name.startswith("utm_") or len(name) > 32:
                raise ValueError(f"{name[:40]!r}: only utm_* names of up to 32 characters")
        return value


class BrowserEventAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"event_id": "0b6c3c1e-9f0e-4a43-9a52-8e2d7f0c6a11"}]})

    event_id: str
