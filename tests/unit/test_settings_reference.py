"""docs/configuration.md is generated from the settings classes; this fails when it is stale."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("settings_reference", ROOT / "tools" / "settings_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_configuration_reference_is_current():
    tool = load_tool()
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == tool.render(), (
        "docs/configuration.md is stale: run `uv run python tools/settings_reference.py` and commit the result"
    )


def test_every_setting_of_every_service_is_listed_with_a_description():
    tool = load_tool()
    text = tool.render()
    for _, settings, _ in tool.services():
        for name, field in settings.model_fields.items():
            variable = tool.env_name(settings, name, field)
            assert variable.startswith("LEADFLOW_")
            assert f"`{variable}`" in text
            assert field.description, f"{settings.__name__}.{name} has no description"
    assert "| `LEADFLOW_SHUTDOWN_TIMEOUT_SECONDS` | number | `8` |" in text
    assert "| `LEADFLOW_OTEL_EXPORTER_OTLP_ENDPOINT` | string, optional | unset |" in text
    assert "| `LEADFLOW_INGEST_PORT` | integer | `8000` |" in text
