"""The alert rules, the Grafana dashboard and the runbook refer to metrics the services export,
and every alert is explained in docs/operations.md with the same PromQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

ROOT = Path(__file__).resolve().parents[2]
ALERTS = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "leadflow.json").read_text())
RUNBOOK = (ROOT / "docs" / "operations.md").read_text()
RULES = [r for g in ALERTS["groups"] for r in g["rules"]]
EXTERNAL = ("process_", "python_", "up", "kube_")  # exported by prometheus_client's collectors or others


def exported_metrics() -> set[str]:
    """Every sample name the three services can export."""
    from leadflow_handover.app import create_app as handover
    from leadflow_ingest.app import create_app as ingest
    from leadflow_scoring.app import create_app as scoring

    ingest(), scoring(), handover()  # import every module that defines metrics
    names = set()
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001
        if isinstance(collector, MetricWrapperBase):
            base = collector._name  # noqa: SLF001
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
            names |= {base + s for s in suffixes.get(collector._type, [""])}  # noqa: SLF001
    return names


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(leadflow_[a-z0-9_]+)", expr))


def squash(text: str) -> str:
    return " ".join(text.split())


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p.get("targets", [])]


def test_alerts_and_dashboard_use_only_exported_metrics():
    exported = exported_metrics()
    used = set().union(*(metric_names(r["expr"]) for r in RULES), *(metric_names(e) for e in dashboard_exprs()))
    assert used, "no leadflow metric referenced"
    assert used <= exported, f"not exported by any service: {sorted(used - exported)}"


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_every_alert_is_in_the_runbook_with_its_promql(rule):
    anchor = rule["alert"].lower()
    assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{anchor}"
    assert f"### {rule['alert']}\n" in RUNBOOK, f"docs/operations.md has no section {rule['alert']}"
    section = RUNBOOK.split(f"### {rule['alert']}\n", 1)[1].split("\n### ", 1)[0]
    assert squash(rule["expr"]) in squash(section), f"the runbook shows other PromQL for {rule['alert']}"
    assert "**Do:**" in section
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"]


def test_the_runbook_covers_what_operators_are_asked_about():
    alerts = {r["alert"] for r in RULES}
    assert {"LeadflowConsumerLagGrowing", "LeadflowDeadLetters", "LeadflowDeliveriesFailing", "LeadflowOutboxBacklogOld",
            "LeadflowNotReady", "LeadflowRestarting"} <= alerts


def test_the_dashboard_has_the_panels_and_uses_the_provisioned_datasource():
    datasource = yaml.safe_load((ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    panels = DASHBOARD["panels"]
    for panel in panels:
        if panel.get("targets"):
            assert panel["datasource"]["uid"] == uid
            assert all(t["datasource"]["uid"] == uid for t in panel["targets"])
    titles = " | ".join(p["title"].lower() for p in panels)
    for wanted in ("touchpoints accepted", "ingest latency", "consumer lag per partition", "batch latency",
                   "stage transitions", "outbox backlog", "delivery attempts", "handover latency", "dead letters"):
        assert wanted in titles, f"no panel about {wanted}"
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    assert DASHBOARD["uid"] == "leadflow-overview"
