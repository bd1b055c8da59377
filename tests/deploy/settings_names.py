"""The environment variables each service reads, from its settings class (what deploy files must match)."""

from __future__ import annotations

from pydantic_settings import BaseSettings


def env_names(settings: type[BaseSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return {(prefix + name).upper() for name in settings.model_fields}


def service_settings() -> dict[str, type[BaseSettings]]:
    from leadflow_handover.settings import HandoverSettings
    from leadflow_ingest.settings import IngestSettings
    from leadflow_runtime.settings import CommonSettings
    from leadflow_scoring.settings import ScoringSettings

    return {"ingest": IngestSettings, "scoring": ScoringSettings, "handover": HandoverSettings, "common": CommonSettings}


def default_port(service: str) -> int:
    settings = service_settings()[service]
    return settings.model_fields[f"{service}_port"].default


def reads(command: list[str] | str) -> set[str]:
    """The variables the program a container runs reads (leadflow-topics reads the common settings only)."""
    text = " ".join(command) if isinstance(command, list) else command
    names: set[str] = set()
    for service, settings in service_settings().items():
        if f"leadflow-{service}" in text:
            names |= env_names(settings)
    return names | env_names(service_settings()["common"])
