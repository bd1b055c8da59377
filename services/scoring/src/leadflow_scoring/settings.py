"""Settings of the scoring service (``LEADFLOW_`` variables)."""

from __future__ import annotations

from pydantic import Field

from leadflow_runtime.settings import CommonSettings


class ScoringSettings(CommonSettings):
    scoring_port: int = Field(default=8001, description="HTTP port of the scoring service (lead read API).")
    scoring_group_id: str = Field(default="leadflow-scoring", description="Kafka consumer group of the scoring workers.")
    scoring_model_path: str | None = Field(default=None, description="Path of the YAML scoring model; the shipped default when unset.")
    scoring_max_batch: int = Field(default=1000, ge=1, le=5000, description="Most touchpoints applied in one transaction.")
    scoring_decay_sweep_seconds: float = Field(default=60.0, gt=0, description="How often MQLs whose engagement decayed are recycled.")
    scoring_db_pool_size: int = Field(default=5, ge=1, description="PostgreSQL connections kept open.")
