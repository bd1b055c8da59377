"""What a source is: a website form, a form tool's webhook or an API client that sends touchpoints.

The same ``SourceSpec`` is written in the sources YAML file and sent to the admin API; a
``Source`` is what the request paths work with (the signing secret in clear, because an
HMAC can only be checked with it).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from leadflow_events import TouchpointType

SOURCE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
DEFAULT_RATE_LIMIT = 600
PROFILE_FIELDS = ("first_name", "last_name", "company", "job_title", "company_size", "industry", "country", "phone")
PLAIN_TARGETS = ("email", "anonymous_id", "occurred_at", "type", "ignore")
_PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_ORIGIN = re.compile(r"^https?://(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$")


class SourceKind(StrEnum):
    API = "api"
    HUBSPOT = "hubspot"
    TYPEFORM = "typeform"
    WEBFLOW = "webflow"
    STANDARD_WEBHOOKS = "standard-webhooks"
    HTML_FORM = "html-form"


PROVIDER_KINDS = frozenset({SourceKind.HUBSPOT, SourceKind.TYPEFORM, SourceKind.WEBFLOW, SourceKind.STANDARD_WEBHOOKS})


def check_target(target: str) -> str:
    """A mapping target: a touchpoint field (``email``), ``profile.<field>``, ``properties.<name>`` or ``ignore``."""
    if target in PLAIN_TARGETS:
        return target
    head, _, tail = target.partition(".")
    if head == "profile" and tail in PROFILE_FIELDS:
        return target
    if head == "properties" and _PROPERTY_NAME.match(tail):
        return target
    raise ValueError(
        f"unknown target {target!r}: use one of {', '.join(PLAIN_TARGETS)}, "
        f"profile.<{'|'.join(PROFILE_FIELDS)}> or properties.<name>"
    )


def check_standard_webhooks_secret(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a Standard Webhooks secret is `whsec_` followed by base64") from exc
    if len(decoded) < 16:
        raise ValueError("a Standard Webhooks secret must decode to at least 16 bytes")
    return decoded


def _no_nul(value: Any, where: str) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"{where} contains a NUL character")


class SourceSpec(BaseModel):
    """A source as an operator configures it (YAML file or admin API)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "html-form",
                    "name": "Contact form on www.example.com",
                    "field_mapping": {"email": "email", "firstname": "profile.first_name", "message": "properties.message"},
                    "touchpoint_type": "form_submitted",
                    "allowed_origins": ["https://www.example.com"],
                    "thank_you_url": "https://www.example.com/thanks",
                    "rate_limit_per_minute": 600,
                }
            ]
        },
    )

    kind: SourceKind = Field(description="Where the touchpoints come from; decides which endpoint the source has.")
    name: str = Field(min_length=1, max_length=200, description="A name people recognise.")
    signing_secret: SecretStr | None = Field(
        default=None, max_length=512,
        description="The provider's webhook secret (HubSpot client secret, Typeform secret, Webflow webhook secret, "
        "Standard Webhooks `whsec_...`). Write-only: never returned. Omitted on update: the stored one is kept.",
    )
    field_mapping: dict[str, str] = Field(
        default_factory=dict, max_length=200,
        description="Provider field -> touchpoint field (`email`, `anonymous_id`, `occurred_at`, `type`, "
        "`profile.<field>`, `properties.<name>` or `ignore`). Unmapped fields with common names (email, first_name, "
        "firstname, company, ...) map by themselves; the rest become properties.",
    )
    touchpoint_type: TouchpointType = Field(default=TouchpointType.FORM_SUBMITTED, description="Type of the touchpoints it records.")
    allowed_origins: list[str] = Field(
        default_factory=list, max_length=50,
        description="Web origins allowed to post forms and browser events, e.g. `https://www.example.com` or "
        "`https://*.example.com`.",
    )
    thank_you_url: str | None = Field(
        default=None, max_length=2048, pattern=r"^https?://\S+$", description="Where a browser lands after a form post (303).",
    )
    rate_limit_per_minute: int = Field(
        default=DEFAULT_RATE_LIMIT, ge=1, le=1_000_000, description="Requests per minute per ingest instance; more get 429.",
    )

    @field_validator("name", "thank_you_url")
    @classmethod
    def _plain_text(cls, value: str | None) -> str | None:
        _no_nul(value, "the value")
        return value

    @field_validator("field_mapping")
    @classmethod
    def _valid_mapping(cls, mapping: dict[str, str]) -> dict[str, str]:
        for name, target in mapping.items():
            _no_nul(name, "a field name")
            if not name or len(name) > 256:
                raise ValueError("field names are 1 to 256 characters")
            try:
                check_target(target)
            except ValueError as exc:
                raise ValueError(f"{name!r}: {exc}") from None
        return mapping

    @field_validator("allowed_origins")
    @classmethod
    def _valid_origins(cls, origins: list[str]) -> list[str]:
        cleaned = []
        for origin in origins:
            value = origin.strip().rstrip("/").lower()
            if not _ORIGIN.match(value):
                raise ValueError(
                    f"{origin[:80]!r} is not an origin: write scheme and host (and port), e.g. https://www.example.com"
                )
            cleaned.append(value)
        return cleaned

    @model_validator(mode="after")
    def _secret_fits_kind(self) -> SourceSpec:
        if self.signing_secret is not None:
            secret = self.signing_secret.get_secret_value()
            _no_nul(secret, "signing_secret")
            if not secret:
                raise ValueError("signing_secret is empty")
            if self.kind == SourceKind.STANDARD_WEBHOOKS:
                check_standard_webhooks_secret(secret)
        return self


@dataclass(frozen=True)
class Source:
    id: str
    kind: SourceKind
    name: str
    signing_secret: str | None
    field_mapping: dict[str, str] = field(default_factory=dict)
    touchpoint_type: TouchpointType = TouchpointType.FORM_SUBMITTED
    allowed_origins: tuple[str, ...] = ()
    thank_you_url: str | None = None
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def endpoint(self) -> str:
        if self.kind in PROVIDER_KINDS:
            return f"/v1/sources/{self.id}/webhook"
        if self.kind == SourceKind.HTML_FORM:
            return f"/v1/sources/{self.id}/form"
        return f"/v1/sources/{self.id}/touchpoints"


@dataclass(frozen=True)
class KeyGrant:
    """An issued API key as the request path sees it: which source it speaks for."""

    key_id: str
    source_id: str
