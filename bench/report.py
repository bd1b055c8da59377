"""Writes ``docs/benchmarks.json`` (everything measured) and ``docs/benchmarks.md`` (the readable table).

The Markdown is rendered from the JSON alone, so a partial run (``--only``) merges its
scenarios into the stored results and the page shows each scenario's own date and load.
``bench/NOTES.md`` (profiles, what was changed and why) is appended as written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.core import fmt
from bench.infra import ROOT

DOCS = ROOT / "docs"
NOTES = ROOT / "bench" / "NOTES.md"


def merge(path: Path, run: dict[str, Any], order: list[str]) -> dict[str, Any]:
    """The stored results with this run's scenarios replaced; machine and run data from this run."""
    stored: dict[str, Any] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except ValueError:
            stored = {}
    scenarios = {**stored.get("scenarios", {}), **run["scenarios"]}
    return {**run, "scenarios": {name: scenarios[name] for name in order if name in scenarios}}


def write(run: dict[str, Any], order: list[str], docs: Path = DOCS) -> tuple[Path, Path]:
    docs.mkdir(parents=True, exist_ok=True)
    json_path, md_path = docs / "benchmarks.json", docs / "benchmarks.md"
    merged = merge(json_path, run, order)
    json_path.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    md_path.write_text(render(merged))
    return json_path, md_path


def _verdict(metric: dict[str, Any]) -> str:
    if metric["passed"] is None:
        return ""
    return "pass" if metric["passed"] else "**FAIL**"


def _value(metric: dict[str, Any], key: str = "value") -> str:
    v = metric.get(key)
    if v is None:
        return "-"
    return f"{fmt(v)} {metric['unit']}".strip()


def render(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` (`python -m bench`): each scenario starts the real services as processes "
        "(production settings: JSON logs to files, INFO level) against the real Kafka broker and PostgreSQL, "
        "in a database and topics of its own. `python -m bench --only NAME` re-runs one scenario and merges it "
        "in; `make bench-smoke` runs every scenario at toy sizes in one to two minutes (`tests/bench` does, so "
        "the benchmarks cannot rot). Raw figures: `docs/benchmarks.json`; service logs and profiles: "
        "`bench/results/`.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| CPU | {m.get('cores')} cores, {m.get('cpu_model')} |",
        f"| memory | {m.get('memory_gib')} GiB |",
        f"| OS | {m.get('os')} |",
        f"| Python | {m.get('python')} |",
        f"| Kafka | {m.get('kafka')} (single node, KRaft, `deploy/local/stack.py`) |",
        f"| PostgreSQL | {m.get('postgresql')} ({m.get('postgresql_settings')}) |",
        f"| libraries | {m.get('libraries')} |",
        f"| commit | `{m.get('git_commit')}`{' with uncommitted changes' if m.get('git_dirty') else ''} |",
        f"| run | {data.get('finished_at', '')}, {data.get('mode', '')} sizes |",
        "",
        "Everything runs on these two cores at once: the service under test, Kafka, PostgreSQL and the load "
        "generator. Each scenario's details say who used the CPU while it was measured; `other` is anything "
        "outside this run (another test run on the machine, the kernel's loopback traffic).",
        "",
        "## Results",
        "",
        "| scenario | metric | target | measured | baseline | ratio | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in data["scenarios"].items():
        if s["status"] != "measured":
            lines.append(f"| {name} | - | - | {s['status']}: {'; '.join(s['notes'])} | - | - | not run |")
            continue
        for metric in s["metrics"]:
            ratio = f"{metric['ratio']:.2f}x" if metric.get("ratio") is not None else "-"
            if metric["value"] is None:
                lines.append(f"| {name} | {metric['name']} | {metric['target'] or '-'} | {metric['note']} | - | - | not run |")
                continue
            lines.append(
                f"| {name} | {metric['name']} | {metric['target'] or '-'} | {_value(metric)} | "
                f"{_value(metric, 'baseline')} | {ratio} | {_verdict(metric)} |"
            )
    lines += ["", "## Scenarios", ""]
    for name, s in data["scenarios"].items():
        lines += [f"### {name}", ""]
        if s.get("started_at"):
            lines.append(f"Run {s['started_at']} ({s['duration_s']:.0f} s, load average before: "
                         f"{s['details'].get('machine_before', {}).get('loadavg_before', '-')}).")
            lines.append("")
        for note in s["notes"]:
            lines.append(f"- {note}")
        for metric in s["metrics"]:
            if metric["note"] and metric["value"] is not None:
                lines.append(f"- {metric['name']}: {metric['note']}")
        cpu = s["details"].get("cpu", {})
        if cpu:
            lines += ["", "CPU while measuring (cores; 2.0 = both busy):", ""]
            for label, split in cpu.items():
                parts = ", ".join(f"{k} {v}" for k, v in split.items() if k not in ("total busy", "loadavg_1m_after"))
                lines.append(f"- {label}: {parts}; total {split.get('total busy')}, load average after "
                             f"{split.get('loadavg_1m_after')}")
        for label, prof in s["details"].get("profiles", {}).items():
            lines += ["", f"py-spy profile `{label}` ({prof['samples']} samples, `{prof['file']}`), "
                      "where the samples were (self time, by package):", ""]
            lines.append(", ".join(f"{p['package']} {p['percent']} %" for p in prof["self_by_package"][:10]))
        lines.append("")
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    return "\n".join(lines)
