"""Destination configurations: where notifications go and how (webhook, Slack, HubSpot, Salesforce).

One model per kind, told apart by ``kind`` (``webhook`` when absent, so the older
``{"name", "url", "secrets"}`` entries keep working). The same models validate the
environment variable, the configuration file and the API, and say which fields are
secret: those are stored apart from the rest and never returned or logged.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, TypeAdapter, field_validator

from leadflow_events import Stage

from leadflow_handover.domain.signing import secret_bytes

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class DestinationBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ()

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    stages: list[Stage] = Field(default=[Stage.SQL], min_length=1, description="Stage changes that trigger a notification.")
    description: str | None = Field(default=None, max_length=500)

    @property
    def target(self) -> str:
        """Where it sends to, safe to show."""
        raise NotImplementedError

    def split(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(everything but the secrets, the secrets) as JSON-able dicts, for storage."""
        public = self.model_dump(mode="json", exclude=set(self.SECRET_FIELDS))
        secrets = {name: _reveal(getattr(self, name)) for name in self.SECRET_FIELDS}
        return public, secrets

    def fingerprint(self) -> str:
        """Changes whenever anything, secrets included, changes (a changed entry is a new endpoint)."""
        public, secrets = self.split()
        return hashlib.sha256(orjson.dumps([public, secrets], option=orjson.OPT_SORT_KEYS)).hexdigest()

    def secret_count(self) -> int:
        return sum(len(v) if isinstance(v, list) else 1 for v in (getattr(self, n) for n in self.SECRET_FIELDS))


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


class WebhookDestination(DestinationBase):
    """A generic receiver, signed per Standard Webhooks; the body is the ``leadflow.handover.v1`` notification."""

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("secrets",)

    kind: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://", max_length=2000)
    secrets: list[SecretStr] = Field(min_length=1, description="Active `whsec_` secrets; several while rotating.")

    @field_validator("secrets")
    @classmethod
    def _valid(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for s in secrets:
            secret_bytes(s.get_secret_value())
        return secrets

    @property
    def target(self) -> str:
        return self.url


class SlackDestination(DestinationBase):
    """A Slack incoming webhook; the URL itself is the secret."""

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("webhook_url",)

    kind: Literal["slack"]
    webhook_url: SecretStr = Field(description="https://hooks.slack.com/services/... (a secret: whoever has it can post).")

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, url: SecretStr) -> SecretStr:
        if not url.get_secret_value().startswith(("https://", "http://")):
            raise ValueError("the Slack webhook URL must start with https://")
        return url

    @property
    def target(self) -> str:
        host = self.webhook_url.get_secret_value().split("/")[2]
        return f"slack incoming webhook at {host} (the URL is secret)"


class HubSpotTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    stages: list[Stage] = Field(default=[Stage.SQL], description="Stage changes that create a task.")
    subject: str = Field(default="Call {name} ({company}) - sales-qualified", max_length=200,
                         description="Placeholders: {name}, {company}, {email}, {stage}.")
    due_minutes: int = Field(default=60, ge=0, description="Due this long after the lead qualified (speed to lead).")
    priority: Literal["LOW", "MEDIUM", "HIGH"] = "HIGH"
    type: Literal["CALL", "EMAIL", "TODO"] = "CALL"


class HubSpotDestination(DestinationBase):
    """HubSpot CRM v3: find the contact by e-mail, create or update it, and give its owner a task."""

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("token",)

    kind: Literal["hubspot"]
    token: SecretStr = Field(description="Private-app access token (scopes: crm.objects.contacts.read/write).")
    base_url: str = Field(default="https://api.hubapi.com", pattern=r"^https?://")
    properties: dict[str, str] = Field(
        default_factory=dict,
        description="Contact property -> notification field (dotted path); added to and overriding the defaults.",
    )
    lifecycle_stages: dict[Stage, str] = Field(
        default_factory=lambda: {Stage.MQL: "marketingqualifiedlead", Stage.SQL: "salesqualifiedlead"},
        description="`lifecyclestage` to set per Leadflow stage.",
    )
    lead_status: dict[Stage, str] = Field(
        default_factory=lambda: {Stage.SQL: "NEW"}, description="`hs_lead_status` to set per Leadflow stage."
    )
    default_owner_id: str | None = Field(default=None, description="HubSpot owner when the assignee has no `hubspot` id.")
    task: HubSpotTask = HubSpotTask()

    @property
    def target(self) -> str:
        return self.base_url


class SalesforceDestination(DestinationBase):
    """Salesforce REST: upsert a Lead by an external-id field holding the e-mail, or query by e-mail and create."""

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("access_token",)

    kind: Literal["salesforce"]
    instance_url: str = Field(pattern=r"^https?://", description="e.g. https://yourorg.my.salesforce.com")
    access_token: SecretStr = Field(description="OAuth access token sent as bearer.")
    api_version: str = Field(default="v61.0", pattern=r"^v[0-9]+\.[0-9]$")
    match: Literal["external_id", "query"] = Field(
        default="external_id",
        description="`external_id`: PATCH /sobjects/Lead/{external_id_field}/{email}; `query`: SOQL by Email, then update or create.",
    )
    external_id_field: str = Field(default="Email__c", pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    fields: dict[str, str] = Field(
        default_factory=dict, description="Lead field -> notification field (dotted path); added to and overriding the defaults."
    )
    lead_status: str = "Open - Not Contacted"
    lead_source: str = "Leadflow"
    default_owner_id: str | None = Field(default=None, description="User or queue id when the assignee has no `salesforce` id.")

    @property
    def target(self) -> str:
        return self.instance_url


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "webhook"))
    return str(getattr(value, "kind", "webhook"))


Destination = Annotated[
    Annotated[WebhookDestination, Tag("webhook")]
    | Annotated[SlackDestination, Tag("slack")]
    | Annotated[HubSpotDestination, Tag("hubspot")]
    | Annotated[SalesforceDestination, Tag("salesforce")],
    Discriminator(_kind, custom_error_type="unknown_kind",
                  custom_error_message="kind must be one of webhook, slack, hubspot, salesforce"),
]
# Validation errors never echo the input: it may hold a secret.
DESTINATION = TypeAdapter(Destination, config=ConfigDict(hide_input_in_errors=True))
KINDS = ("webhook", "slack", "hubspot", "salesforce")


def from_storage(config: dict[str, Any], secrets: dict[str, Any]) -> DestinationBase:
    return DESTINATION.validate_python({**config, **secrets})
