"""Sampling profiles of a running service with py-spy, kept outside the project's lock file.

py-spy is looked up as ``$BENCH_PY_SPY``, then on ``PATH``, then in ``/tmp/prof-venv/bin``
(``python3 -m venv /tmp/prof-venv && /tmp/prof-venv/bin/pip install py-spy``). The profile is
written as collapsed stacks (``bench/results/profiles/*.txt``, readable by speedscope and
flamegraph.pl) and summarised: where the samples were spent (self) and which of our
functions they passed through (inclusive).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.infra import RESULTS, say

PROFILES = RESULTS / "profiles"


def py_spy() -> str | None:
    for candidate in (os.environ.get("BENCH_PY_SPY"), shutil.which("py-spy"), "/tmp/prof-venv/bin/py-spy"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass
class Recording:
    proc: subprocess.Popen[bytes]
    output: Path

    def finish(self, timeout: float = 60) -> dict[str, object] | None:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if not self.output.exists():
            return None
        return summarise(self.output)


def record(pid: int, name: str, seconds: float) -> Recording | None:
    exe = py_spy()
    if exe is None:
        say("py-spy not found: no profile (see bench/profiling.py)")
        return None
    PROFILES.mkdir(parents=True, exist_ok=True)
    output = PROFILES / f"{name}.txt"
    proc = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "100",
         "--format", "raw", "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return Recording(proc, output)


def _frame_name(frame: str) -> str:
    """``send (aiokafka/producer/producer.py:123)`` -> ``aiokafka/producer/producer.py:send``."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{func}"


def _area(frame: str) -> str:
    """The package a frame belongs to, for the coarse split."""
    path = frame.split(":", 1)[0]
    return path.split("/", 1)[0] if "/" in path else path.removesuffix(".py")


def summarise(path: Path, top: int = 12) -> dict[str, object]:
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += n
        self_counts[frames[-1]] += n
        areas[_area(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n

    def pct(c: int) -> float:
        return round(100 * c / total, 1) if total else 0.0

    ours = [(f, c) for f, c in inclusive.most_common() if f.startswith(("leadflow_", "starlette", "fastapi", "pydantic",
                                                                         "aiokafka", "sqlalchemy", "asyncpg", "uvicorn"))]
    return {
        "file": str(path.relative_to(RESULTS.parent.parent)),
        "samples": total,
        "self_top": [{"frame": f, "percent": pct(c)} for f, c in self_counts.most_common(top)],
        "self_by_package": [{"package": a, "percent": pct(c)} for a, c in areas.most_common(top)],
        "inclusive_top": [{"frame": f, "percent": pct(c)} for f, c in ours[: top * 2]],
    }
