"""docker-compose.yml parses and uses the variable names and ports of the settings classes; the
monitoring profile scrapes every service and provisions Grafana from files in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.settings_names import default_port, reads

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "scoring", "handover")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # anchors and `<<` merges resolved


def command_of(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_every_leadflow_container_sets_only_variables_its_program_reads(compose):
    checked = 0
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        ours = {k for k in env if k.startswith("LEADFLOW_")}
        if not ours:
            continue
        checked += 1
        unknown = ours - reads(command_of(service))
        assert not unknown, f"service {name} sets variables its program does not read: {unknown}"
    assert checked >= 5  # init, migrate-handover, ingest, scoring, handover


@pytest.mark.parametrize("name", SERVICES)
def test_ports_and_health_checks_match_the_settings(compose, name):
    port = default_port(name)
    service = compose["services"][name]
    assert command_of(service) == f"leadflow-{name} serve"
    assert str(service["environment"][f"LEADFLOW_{name.upper()}_PORT"]) == str(port)
    assert service["ports"] == [f"{port}:{port}"]
    assert f"http://127.0.0.1:{port}/health/live" in " ".join(service["healthcheck"]["test"])


def test_prometheus_scrapes_every_service_and_loads_the_alerts(compose):
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    for name in SERVICES:
        assert f"{name}:{default_port(name)}" in targets
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {f"leadflow-{name}" for name in SERVICES} <= jobs  # the dashboard and the alerts select on these
    assert config["rule_files"] == ["alerts.yml"]
    prometheus = compose["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    mounts = dict(v.rsplit(":", 2)[:2] for v in prometheus["volumes"] if v.startswith("./"))
    assert mounts["./deploy/prometheus/alerts.yml"] == "/etc/prometheus/alerts.yml"
    assert mounts["./deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard(compose):
    grafana = compose["services"]["grafana"]
    assert grafana["profiles"] == ["monitoring"]
    mounts = dict(v.rsplit(":", 2)[:2] for v in grafana["volumes"])
    for source in mounts:
        assert (ROOT / source).exists(), source
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasources[0]["url"] == "http://prometheus:9090" and datasources[0]["uid"] == "prometheus"
    providers = yaml.safe_load((provisioning / "dashboards" / "leadflow.yml").read_text())["providers"]
    dashboards_in_container = providers[0]["options"]["path"]
    assert mounts["./deploy/grafana/dashboards"] == dashboards_in_container
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{dashboards_in_container}/leadflow.json"
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", grafana["image"])
