"""The benchmarks at toy sizes: every scenario still runs against the real stack and reports a result."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.scenarios import SCENARIOS
from tests.support.stack import ROOT


@pytest.mark.timeout(600)
def test_every_benchmark_scenario_runs_and_reports_a_result() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--no-write"],
        cwd=ROOT, capture_output=True, text=True, timeout=540,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    reported = {line.removeprefix("RESULT ").split(":", 1)[0] for line in results}
    assert reported == set(SCENARIOS), (sorted(set(SCENARIOS) - reported), output[-4000:])
    assert not [line for line in results if ": error" in line], results
    # every measured scenario printed at least one figure
    for line in results:
        name, _, rest = line.removeprefix("RESULT ").partition(": ")
        assert rest.startswith("not run") or "=" in rest, line
