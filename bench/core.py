"""What a scenario gets (``Context``) and gives back (``Outcome`` with ``Metric`` rows and their targets)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.infra import CpuMeter, Infra, loadavg


@dataclass(frozen=True)
class Target:
    """``op`` is ``>=``, ``<`` or ``<=``; ``value`` in the metric's unit."""

    op: str
    value: float

    def met_by(self, measured: float) -> bool:
        return {">=": measured >= self.value, "<": measured < self.value, "<=": measured <= self.value}[self.op]

    def text(self, unit: str) -> str:
        return f"{self.op} {fmt(self.value)} {unit}".strip()


@dataclass
class Metric:
    name: str
    value: float | None
    unit: str = ""
    target: Target | None = None
    baseline: float | None = None  # the baseline's value of the same metric, when the scenario has one
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.target.met_by(self.value)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target"] = self.target.text(self.unit) if self.target else None
        d["target_op"] = self.target.op if self.target else None
        d["target_value"] = self.target.value if self.target else None
        d["ratio"] = round(self.ratio, 3) if self.ratio is not None else None
        d["passed"] = self.passed
        return d


@dataclass
class Outcome:
    scenario: str
    status: str = "measured"  # measured | not run | error
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started_at: str = ""
    duration_s: float = 0.0

    def add(self, *metrics: Metric) -> None:
        self.metrics.extend(metrics)

    @property
    def other_cores(self) -> float:
        """The most CPU others used during one of this scenario's measurement windows."""
        windows = [w.get("other (other runs, kernel)", 0.0) for w in self.details.get("cpu", {}).values()]
        return max(windows, default=0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "status": self.status, "started_at": self.started_at,
            "duration_s": round(self.duration_s, 1), "metrics": [m.as_dict() for m in self.metrics],
            "details": self.details, "notes": self.notes,
        }

    def result_line(self) -> str:
        if self.status != "measured":
            return f"RESULT {self.scenario}: {self.status}" + (f" ({self.notes[0]})" if self.notes else "")
        parts = []
        for m in self.metrics:
            verdict = "" if m.passed is None else (" PASS" if m.passed else " FAIL")
            target = f" [{m.target.text(m.unit)}]" if m.target else ""
            ratio = f" x{m.ratio:.2f} vs baseline" if m.ratio is not None else ""
            parts.append(f"{m.name}={fmt(m.value)} {m.unit}{ratio}{target}{verdict}".replace("  ", " "))
        return f"RESULT {self.scenario}: " + "; ".join(parts)


@dataclass
class Context:
    infra: Infra | None
    smoke: bool = False
    generator: str = "auto"  # auto | wrk | httpx
    profile: bool = False
    memory_minutes: float = 10.0
    soak_minutes: float = 30.0
    drain_size: tuple[int, int] | None = None  # (touchpoints, leads) of scoring-drain, when not the default
    rescoring_leads: int | None = None  # leads stored for rescoring, when not the default

    def size(self, full: Any, smoke: Any) -> Any:
        return smoke if self.smoke else full


class Measure:
    """A measurement window: the CPU split is stored in the outcome under ``label``."""

    def __init__(self, outcome: Outcome, label: str, named: dict[str, list[int]] | None = None) -> None:
        self.outcome = outcome
        self.label = label
        self.meter = CpuMeter(named=dict(named or {}))
        self.elapsed = 0.0
        self.extra: dict[str, float] = {}

    def __enter__(self) -> Measure:
        self._t0 = time.perf_counter()
        self.meter.start()
        return self

    def exclude(self, name: str, cores: float) -> None:
        """CPU of a process the meter could not see by pid (a load generator that has exited)."""
        self.extra[name] = round(cores, 2)

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self._t0
        cpu = self.meter.stop()
        for name, cores in self.extra.items():
            cpu[name] = cores
            key = "other (other runs, kernel)"
            cpu[key] = round(max(cpu[key] - cores, 0.0), 2)
        cpu["loadavg_1m_after"] = loadavg()[0]
        self.outcome.details.setdefault("cpu", {})[self.label] = cpu


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


Scenario = Callable[[Context, Outcome], None]
