"""Settings shared by every service; each service extends ``CommonSettings`` with its own.

All variables carry the ``LEADFLOW_`` prefix. They are read once, at start-up, by the
service's bootstrap - never at import time.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadflow_events import HANDOVER_FEEDBACK_TOPIC, LEAD_STAGES_TOPIC, TOUCHPOINTS_TOPIC

DEFAULT_DATABASE_URL = "postgresql+asyncpg://leadflow:leadflow@127.0.0.1:5432/leadflow"


def asyncpg_url(url: str) -> str:
    """Accept the libpq spelling of a URL too; SQLAlchemy needs the driver named."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", env_file=".env", extra="ignore")

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated.")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="PostgreSQL URL (asyncpg driver).")
    topic_touchpoints: str = Field(default=TOUCHPOINTS_TOPIC, description="Touchpoint topic.")
    topic_lead_stages: str = Field(default=LEAD_STAGES_TOPIC, description="Stage-change topic.")
    topic_handover_feedback: str = Field(
        default=HANDOVER_FEEDBACK_TOPIC, description="Sales feedback topic (accepted, rejected, won, lost, missed deadlines)."
    )
    log_level: str = Field(default="INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_format: str = Field(default="json", description="`json` for machines, `console` for people.")
    http_host: str = Field(default="0.0.0.0", description="Address the HTTP server binds to.")
    shutdown_timeout_seconds: float = Field(default=8.0, description="Grace period after SIGTERM.")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP base URL of a trace collector, e.g. `http://otel-collector:4318`; tracing is off when "
        "unset (the standard `OTEL_EXPORTER_OTLP_ENDPOINT` is honoured too).",
    )

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        return asyncpg_url(value)
