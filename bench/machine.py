"""What the figures were measured on: cores, memory, CPU model, versions, the commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.infra import ROOT, libpq
from tests.support.stack import load_stack_module


def _first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def describe(database_url: str | None) -> dict[str, Any]:
    mem_kb = _first("/proc/meminfo", "MemTotal")
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu_model": _first("/proc/cpuinfo", "model name"),
        "memory_gib": round(int(mem_kb.split()[0]) / 1024 / 1024, 1) if mem_kb else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "git_commit": _run(["git", "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(_run(["git", "status", "--porcelain", "--untracked-files=no"])),
    }
    try:
        stack = load_stack_module()
        version_file = stack.load_config().kafka_dir / "version"
        info["kafka"] = version_file.read_text().strip() if version_file.exists() else None
    except Exception:  # the versions are informative; a missing one must not stop a run
        info["kafka"] = None
    if database_url:
        out = _run(["psql", libpq(database_url), "-At", "-c",
                    "SELECT current_setting('server_version'), current_setting('shared_buffers'), "
                    "current_setting('synchronous_commit'), current_setting('fsync')"])
        if out:
            version, shared_buffers, sync_commit, fsync = out.split("|")
            info["postgresql"] = version
            info["postgresql_settings"] = f"shared_buffers={shared_buffers}, synchronous_commit={sync_commit}, fsync={fsync}"
    import aiokafka
    import fastapi
    import pydantic
    import sqlalchemy
    import uvicorn

    info["libraries"] = (f"fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}, pydantic {pydantic.__version__}, "
                         f"aiokafka {aiokafka.__version__}, sqlalchemy {sqlalchemy.__version__}")
    return info
