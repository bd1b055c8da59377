"""deploy/k8s: valid against the Kubernetes API schemas (offline, kubernetes-validate), and consistent
with the services: variable names, ports, probes, secrets, kustomization."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes_validate import utils as k8s

from tests.deploy.settings_names import default_port, reads

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
# the newest schemas bundled, and the oldest Kubernetes release still commonly run
VERSIONS = [k8s.latest_version(), "1.30.0"]


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def resources() -> list[dict]:
    return [d for p in MANIFESTS for d in documents(p)]


def containers_of(resource: dict) -> list[dict]:
    spec = resource.get("spec", {})
    pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_is_valid_against_the_kubernetes_schema(path, version):
    for doc in documents(path):
        k8s.validate(doc, version, strict=True)  # raises ValidationError naming the field


def test_the_validator_rejects_a_broken_manifest():
    deployment = next(d for d in resources() if d["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eight thousand"
    with pytest.raises(k8s.ValidationError):
        k8s.validate(broken, k8s.latest_version(), strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGett"] = {"path": "/x", "port": 1}
    with pytest.raises(k8s.ValidationError):
        k8s.validate(broken, k8s.latest_version(), strict=True)


def test_kustomization_lists_every_manifest_and_names_every_image():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in MANIFESTS}
    images = {i["name"] for i in kustomization["images"]}
    used = {c["image"] for r in resources() for c in containers_of(r)}
    assert used <= images, f"images without a registry/tag in kustomization.yaml: {used - images}"


def test_containers_set_only_variables_their_service_reads():
    config = next(d for d in resources() if d["kind"] == "ConfigMap")
    secret = next(d for d in resources() if d["kind"] == "Secret")
    workloads = [r for r in resources() if containers_of(r)]
    assert workloads
    for resource in workloads:
        for container in containers_of(resource):
            names = set()
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] == config["metadata"]["name"]
                # the shared ConfigMap serves every service: each ignores what it does not use
            for var in container.get("env", []):
                names.add(var["name"])
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"], var
            unknown = names - reads(container["command"])
            assert not unknown, f"{resource['metadata']['name']}/{container['name']} sets variables nobody reads: {unknown}"
    every = set().union(*(reads(s) for s in ("leadflow-ingest", "leadflow-scoring", "leadflow-handover")))
    assert set(config["data"]) <= every, f"ConfigMap keys no service reads: {set(config['data']) - every}"


@pytest.mark.parametrize("service", ["ingest", "scoring", "handover"])
def test_ports_and_probes_match_the_service(service):
    port = default_port(service)
    deployment = next(r for r in resources() if r["kind"] == "Deployment" and r["metadata"]["name"] == f"leadflow-{service}")
    (container,) = containers_of(deployment)
    assert container["command"] == [f"leadflow-{service}", "serve"]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    env = {v["name"]: v.get("value") for v in container["env"]}
    assert env[f"LEADFLOW_{service.upper()}_PORT"] == str(port)
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    svc = next(r for r in resources() if r["kind"] == "Service" and r["metadata"]["name"] == f"leadflow-{service}")
    assert svc["spec"]["ports"][0]["port"] == port and svc["spec"]["ports"][0]["targetPort"] == "http"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
