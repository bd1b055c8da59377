"""Each service's /metrics, scraped in-process: Prometheus naming conventions, no per-lead labels, process metrics."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

UNITS = ("_seconds", "_bytes", "_records", "_events", "_ratio")
"""What a histogram may measure: base units (time in seconds, sizes in bytes) or the things counted."""
TIME_WORDS = ("duration", "latency", "age", "delay", "time", "elapsed")
NON_BASE_UNITS = ("_milliseconds", "_ms", "_microseconds", "_minutes", "_hours", "_days", "_kilobytes", "_kb", "_mb",
                  "_percent")
PER_LEAD = {"lead", "lead_id", "lead_key", "email", "anonymous_id", "event_id", "touchpoint_id", "delivery_id", "webhook_id"}


def ingest_app():  # type: ignore[no-untyped-def]
    from leadflow_ingest.app import create_app
    from leadflow_ingest.settings import IngestSettings

    return create_app(IngestSettings())


def scoring_app():  # type: ignore[no-untyped-def]
    from leadflow_scoring.app import create_app
    from leadflow_scoring.settings import ScoringSettings

    return create_app(ScoringSettings())


def handover_app():  # type: ignore[no-untyped-def]
    from leadflow_handover.app import create_app
    from leadflow_handover.settings import HandoverSettings

    return create_app(HandoverSettings())


async def scrape(app) -> str:  # type: ignore[no-untyped-def]
    """GET /metrics without running the lifespan: no broker, no database."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


@pytest.mark.parametrize("make_app", [ingest_app, scoring_app, handover_app], ids=["ingest", "scoring", "handover"])
async def test_metrics_follow_prometheus_conventions(make_app):
    text = await scrape(make_app())
    families = {f.name: f for f in text_string_to_metric_families(text)}
    ours = {
        name: f for name, f in families.items()
        # the plain text parser reads a counter's `_created` sample as a gauge family of its own
        if name.startswith("leadflow_") and not (name.endswith("_created") and name.removesuffix("_created") in families)
    }
    assert "leadflow_http_requests_total" in text and "leadflow_http_request_duration_seconds" in ours

    bad = []
    for name, family in ours.items():
        if family.type == "counter":
            if f"{name}_total" not in text:
                bad.append(f"{name}: a counter must be exposed as {name}_total")
        elif name.endswith("_total"):
            bad.append(f"{name}: only counters end in _total")
        elif family.type in ("histogram", "summary") and not name.endswith(UNITS):
            bad.append(f"{name} ({family.type}): name should end in what it measures, one of {UNITS}")
        words = name.removesuffix("_total").split("_")
        if any(w in TIME_WORDS for w in words) and not name.removesuffix("_total").endswith("_seconds"):
            bad.append(f"{name}: a time is measured in seconds and named so")
        if any(name.removesuffix("_total").endswith(unit) or f"{unit}_" in name for unit in NON_BASE_UNITS):
            bad.append(f"{name}: use base units (seconds, bytes, ratios)")
    assert not bad, "\n".join(bad)

    # the process collector of prometheus_client: CPU, memory, file descriptors, start time
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                 "process_start_time_seconds", "python_info"):
        assert name in text, f"{name} is not exported"


def test_no_metric_has_a_per_lead_label():
    ingest_app(), scoring_app(), handover_app()  # import every service's metrics
    offenders = {}
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - labels of metrics with no sample yet
        if isinstance(collector, MetricWrapperBase):
            names = set(collector._labelnames)  # noqa: SLF001
            if names & PER_LEAD:
                offenders[collector._name] = sorted(names & PER_LEAD)  # noqa: SLF001
    assert not offenders, f"high-cardinality labels: {offenders}"
