"""Settings of the scoring service (``LEADFLOW_`` variables)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from leadflow_runtime.settings import CommonSettings


class ScoringSettings(CommonSettings):
    scoring_port: int = Field(default=8001, description="HTTP port of the scoring service (lead read API).")
    scoring_group_id: str = Field(default="leadflow-scoring", description="Kafka consumer group of the scoring workers.")
    scoring_model_path: str | None = Field(default=None, description="Path of the YAML scoring model; the shipped default when unset.")
    scoring_max_batch: int = Field(default=1000, ge=1, le=5000, description="Most touchpoints applied in one transaction.")
    scoring_decay_sweep_seconds: float = Field(default=60.0, gt=0, description="How often MQLs whose engagement decayed are recycled.")
    scoring_retention_days: int = Field(default=365, ge=1, description="Leads that never qualified are deleted after this many days without activity.")
    scoring_retention_interval_seconds: float = Field(default=3600.0, gt=0, description="How often the retention job looks for such leads.")
    scoring_db_pool_size: int = Field(default=5, ge=1, description="PostgreSQL connections kept open.")
    scoring_admin_key: SecretStr | None = Field(
        default=None, description="Admin key of the web dashboard (at least 16 characters); the dashboard answers 503 without it.",
    )
    dashboard_handover_url: str = Field(
        default="http://127.0.0.1:8002", pattern=r"^https?://",
        description="The handover API as the dashboard's browser reaches it (deliveries, replay).",
    )

    @field_validator("scoring_admin_key")
    @classmethod
    def _real_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None or not key.get_secret_value():
            return None
        value = key.get_secret_value()
        if len(value) < 16 or value.lower().strip("-_ ") in PLACEHOLDERS or len(set(value)) < 6:
            raise ValueError("LEADFLOW_SCORING_ADMIN_KEY must be a real secret of at least 16 characters "
                             "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
        return key


PLACEHOLDERS = {"changeme", "change-me", "changeit", "secret", "password", "admin", "adminkey", "admin-key", "todo", "xxx"}
