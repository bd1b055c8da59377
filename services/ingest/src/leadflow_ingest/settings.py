"""Settings of the ingest service (``LEADFLOW_`` variables)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from leadflow_runtime.settings import CommonSettings

PLACEHOLDERS = {"changeme", "change-me", "secret", "example", "xxx"}


class IngestSettings(CommonSettings):
    ingest_port: int = Field(default=8000, description="HTTP port of the ingest service.")
    ingest_api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="API keys accepted as `Authorization: Bearer <key>` or `X-API-Key` (JSON list). Empty: no authentication (development only).",
    )
    ingest_max_body_bytes: int = Field(default=64 * 1024, description="Largest request body for single touchpoints.")
    ingest_max_batch_body_bytes: int = Field(default=1024 * 1024, description="Largest request body for the batch endpoint.")
    ingest_max_batch_items: int = Field(default=500, ge=1, le=5000, description="Most touchpoints in one batch request.")
    ingest_produce_timeout_seconds: float = Field(default=5.0, gt=0, description="How long to wait for Kafka's acknowledgement before answering 503.")
    ingest_retry_after_seconds: int = Field(default=5, ge=1, description="`Retry-After` sent with 503 answers.")
    ingest_linger_ms: int = Field(default=2, ge=0, description="Producer linger: a few ms batch concurrent requests into one Kafka request.")

    @field_validator("ingest_api_keys")
    @classmethod
    def _no_placeholders(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for key in keys:
            value = key.get_secret_value()
            if value.lower() in PLACEHOLDERS or len(value) < 16:
                raise ValueError("an API key must be at least 16 characters and not a placeholder")
        return keys
