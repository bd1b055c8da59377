"""Settings of the ingest service (``LEADFLOW_`` variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from leadflow_runtime.settings import CommonSettings

PLACEHOLDERS = {"changeme", "change-me", "secret", "example", "xxx", "admin", "password"}


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return lowered in PLACEHOLDERS or len(value) < 16 or any(p in lowered for p in ("changeme", "change-me", "replace-me"))


class IngestSettings(CommonSettings):
    ingest_port: int = Field(default=8000, description="HTTP port of the ingest service.")
    ingest_api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Static, unscoped API keys accepted as `Authorization: Bearer <key>` or `X-API-Key` (JSON list). "
        "When neither these nor an admin key are set, the JSON API accepts unauthenticated requests (development only).",
    )
    ingest_admin_key: SecretStr | None = Field(
        default=None,
        description="Key of the admin API (`/v1/sources`, source keys). No default: unset, the admin API answers 503. "
        "Setting it also makes the JSON API require a key.",
    )
    ingest_sources_file: Path | None = Field(
        default=None, description="YAML file of sources, upserted by id into PostgreSQL at start-up."
    )
    ingest_public_url: str | None = Field(
        default=None, pattern=r"^https?://[^/?#]+$",
        description="Scheme and host the providers call (e.g. https://leads.example.com), when a proxy sits in front: "
        "HubSpot signs the full URL. Unset: the URL of the request as received.",
    )
    ingest_key_cache_seconds: float = Field(
        default=30.0, ge=0, description="How long a source or API-key lookup is cached; a revoked key stops working within this time.",
    )
    ingest_signature_tolerance_seconds: int = Field(
        default=300, ge=1, description="How far a provider's signed timestamp may be from now (replay window).",
    )
    ingest_provider_event_retention_hours: float = Field(
        default=72.0, gt=0, description="How long provider event ids are kept to answer repeats with `duplicate: true`.",
    )
    ingest_max_body_bytes: int = Field(default=64 * 1024, description="Largest request body for single touchpoints, forms and browser events.")
    ingest_max_batch_body_bytes: int = Field(default=1024 * 1024, description="Largest request body for the batch endpoint.")
    ingest_max_webhook_body_bytes: int = Field(default=256 * 1024, description="Largest request body of a provider webhook.")
    ingest_max_import_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1024,
        description="Largest upload to `POST /v1/imports` (the CSV file and its form fields); larger files get 413.",
    )
    ingest_import_retry_seconds: float = Field(
        default=60.0, gt=0,
        description="How long an import keeps retrying while Kafka (or PostgreSQL) does not answer before it is marked "
        "failed; uploading the same file again continues where it stopped.",
    )
    ingest_max_batch_items: int = Field(default=500, ge=1, le=5000, description="Most touchpoints in one batch request.")
    ingest_produce_timeout_seconds: float = Field(default=5.0, gt=0, description="How long to wait for Kafka's acknowledgement before answering 503.")
    ingest_retry_after_seconds: int = Field(default=5, ge=1, description="`Retry-After` sent with 503 answers.")
    ingest_linger_ms: int = Field(default=2, ge=0, description="Producer linger: a few ms batch concurrent requests into one Kafka request.")

    @field_validator("ingest_api_keys")
    @classmethod
    def _no_placeholders(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for key in keys:
            if _is_placeholder(key.get_secret_value()):
                raise ValueError("an API key must be at least 16 characters and not a placeholder")
        return keys

    @field_validator("ingest_admin_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("ingest_admin_key")
    @classmethod
    def _admin_key_is_real(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and _is_placeholder(key.get_secret_value()):
            raise ValueError(
                "LEADFLOW_INGEST_ADMIN_KEY must be at least 16 random characters and not a placeholder "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return key

    @property
    def authentication_required(self) -> bool:
        return bool(self.ingest_api_keys) or self.ingest_admin_key is not None
