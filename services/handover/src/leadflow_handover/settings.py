"""Settings of the handover service (``LEADFLOW_`` variables)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

from leadflow_events import Stage
from leadflow_runtime.settings import CommonSettings

from leadflow_handover.domain.retry import DEFAULT_SCHEDULE
from leadflow_handover.domain.signing import secret_bytes


class WebhookDestination(BaseModel):
    """A generic webhook receiver, signed per Standard Webhooks."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    url: str = Field(pattern=r"^https?://")
    secrets: list[SecretStr] = Field(min_length=1, description="Active `whsec_` secrets; several while rotating.")
    stages: list[Stage] = Field(default=[Stage.SQL], description="Stage changes that trigger a notification.")

    @field_validator("secrets")
    @classmethod
    def _valid(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for s in secrets:
            secret_bytes(s.get_secret_value())
        return secrets


class HandoverSettings(CommonSettings):
    handover_port: int = Field(default=8002, description="HTTP port of the handover service.")
    handover_group_id: str = Field(default="leadflow-handover", description="Kafka consumer group of the handover workers.")
    handover_destinations: list[WebhookDestination] = Field(
        default_factory=list, description="Webhook destinations (JSON list of {name, url, secrets, stages})."
    )
    handover_retry_schedule: tuple[float, ...] = Field(
        default=DEFAULT_SCHEDULE, description="Seconds before each retry (JSON list); default 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h."
    )
    handover_timeout_seconds: float = Field(default=15.0, gt=0, description="HTTP timeout of one delivery attempt.")
    handover_lease_seconds: float = Field(default=30.0, gt=0, description="A claimed delivery is retried by anyone after this.")
    handover_concurrency: int = Field(default=20, ge=1, description="Deliveries sent at the same time.")
    handover_lead_url: str = Field(default="http://127.0.0.1:8001/v1/leads/{lead_id}", description="Link to the lead in notifications.")
