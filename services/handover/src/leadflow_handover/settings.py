"""Settings of the handover service (``LEADFLOW_`` variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from leadflow_runtime.settings import CommonSettings

from leadflow_handover.destinations import Destination, WebhookDestination  # noqa: F401  (WebhookDestination: the older import path)
from leadflow_handover.domain.retry import DEFAULT_SCHEDULE

PLACEHOLDERS = {"changeme", "change-me", "secret", "example", "xxx", "admin"}


class HandoverSettings(CommonSettings):
    # Validation errors never echo a value: destinations carry secrets.
    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", env_file=".env", extra="ignore", hide_input_in_errors=True)

    handover_port: int = Field(default=8002, description="HTTP port of the handover service.")
    handover_group_id: str = Field(default="leadflow-handover", description="Kafka consumer group of the handover workers.")
    handover_destinations: list[Destination] = Field(
        default_factory=list,
        description="Destinations as JSON: a list of {name, url, secrets, stages} webhooks, or any `kind` of the file.",
    )
    handover_destinations_file: Path | None = Field(
        default=None, description="YAML file with `destinations`, `teams` and `routing` (see docs/handover.md)."
    )
    handover_admin_key: SecretStr | None = Field(
        default=None,
        description="Key for the write API (destinations, replays), sent as `Authorization: Bearer <key>`. Unset: the write API answers 503.",
    )
    handover_retry_schedule: tuple[float, ...] = Field(
        default=DEFAULT_SCHEDULE, description="Seconds before each retry (JSON list); default 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h."
    )
    handover_timeout_seconds: float = Field(default=15.0, gt=0, description="Time limit of one delivery attempt (all its HTTP calls).")
    handover_lease_seconds: float = Field(default=30.0, gt=0, description="A claimed delivery is retried by anyone after this.")
    handover_concurrency: int = Field(default=20, ge=1, description="Deliveries sent at the same time.")
    handover_lead_url: str = Field(default="http://127.0.0.1:8001/v1/leads/{lead_id}", description="Link to the lead in notifications.")
    handover_gauge_seconds: float = Field(default=15.0, gt=0, description="How often the pending/failed gauges are refreshed.")
    handover_dashboard_origins: list[str] = Field(
        default=["http://127.0.0.1:8001", "http://localhost:8001"],
        description="Browser origins allowed to call this API (CORS): the scoring dashboard's, as a JSON list.",
    )

    handover_sla_seconds: float = Field(
        default=3600.0, ge=0,
        description="Time sales has to accept a handover before it is escalated (0: no deadline); a team's `sla` in the file overrides it.",
    )
    handover_sla_escalate_to: str | None = Field(
        default=None, description="Destination name that is told when a handover was not accepted in time (e.g. the team lead's Slack).",
    )
    handover_sla_reassign: bool = Field(
        default=False, description="Give a lead nobody accepted in time to the next member of the team's round-robin.",
    )
    handover_sla_check_seconds: float = Field(default=15.0, gt=0, description="How often overdue handovers are looked for.")
    handover_feedback_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs the accept / reject links in notifications (at least 32 random characters). Unset: no links; "
        "feedback only through the API.",
    )
    handover_public_url: str = Field(
        default="http://127.0.0.1:8002", pattern=r"^https?://",
        description="This service's address as sales reach it; the accept / reject links point here.",
    )
    handover_feedback_link_ttl_seconds: float = Field(
        default=7 * 86400.0, gt=0, description="How long an accept / reject link works (default 7 days)."
    )

    @field_validator("handover_admin_key")
    @classmethod
    def _strong(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None or not key.get_secret_value():
            return None
        value = key.get_secret_value()
        if value.lower() in PLACEHOLDERS or len(value) < 16:
            raise ValueError("the admin key must be at least 16 characters and not a placeholder")
        return key

    @field_validator("handover_feedback_secret")
    @classmethod
    def _long(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None or not key.get_secret_value():
            return None
        value = key.get_secret_value()
        if value.lower() in PLACEHOLDERS or len(value) < 32:
            raise ValueError("the feedback link secret must be at least 32 characters and not a placeholder")
        return key

    @field_validator("handover_sla_escalate_to")
    @classmethod
    def _name(cls, name: str | None) -> str | None:
        return name or None
