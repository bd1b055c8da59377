"""Test access to the real Kafka broker and PostgreSQL started by ``deploy/local/stack.py``."""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
STACK_SCRIPT = ROOT / "deploy" / "local" / "stack.py"
ARTIFACTS = ROOT / "test-artifacts"


def load_stack_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("leadflow_local_stack", STACK_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    database_url: str  # the server's own database; tests create their own next to it


@dataclass
class TestEnv:
    """One isolated world: its own database and its own topics on the shared servers."""

    infra: Infra
    database_url: str
    prefix: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def touchpoints_topic(self) -> str:
        return self.env["LEADFLOW_TOPIC_TOUCHPOINTS"]

    @property
    def stages_topic(self) -> str:
        return self.env["LEADFLOW_TOPIC_LEAD_STAGES"]

    @property
    def feedback_topic(self) -> str:
        return self.env["LEADFLOW_TOPIC_HANDOVER_FEEDBACK"]


def start_infra() -> Infra:
    stack = load_stack_module()
    stack.up()
    return Infra(
        kafka_bootstrap=os.environ.get("LEADFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        database_url=os.environ.get("LEADFLOW_DATABASE_URL", "postgresql+asyncpg://leadflow:leadflow@127.0.0.1:5432/leadflow"),
    )


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def run_cli(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` failed:\n{result.stdout}\n{result.stderr}")


def create_test_env(infra: Infra, name: str) -> TestEnv:
    """A fresh database (migrated by the services' own commands) and fresh topics (6 partitions)."""
    token = secrets.token_hex(4)
    db_name = f"leadflow_test_{name}_{token}"
    prefix = f"test.{name}.{token}"
    subprocess.run(["psql", libpq(infra.database_url), "-q", "-c", f'CREATE DATABASE "{db_name}"'], check=True, timeout=60)
    database_url = _with_database(infra.database_url, db_name)
    env = {
        "LEADFLOW_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "LEADFLOW_DATABASE_URL": database_url,
        "LEADFLOW_TOPIC_TOUCHPOINTS": f"{prefix}.touchpoints",
        "LEADFLOW_TOPIC_LEAD_STAGES": f"{prefix}.lead-stages",
        "LEADFLOW_TOPIC_HANDOVER_FEEDBACK": f"{prefix}.handover-feedback",
        "LEADFLOW_SCORING_GROUP_ID": f"{prefix}.scoring",
        "LEADFLOW_HANDOVER_GROUP_ID": f"{prefix}.handover",
        "LEADFLOW_LOG_FORMAT": "json",
    }
    run_cli(["leadflow_scoring.cli", "migrate"], env)
    run_cli(["leadflow_handover.cli", "migrate"], env)
    run_cli(["leadflow_ingest.cli", "migrate"], env)
    run_cli(["leadflow_runtime.topics", "create", "--partitions", "6"], env)
    return TestEnv(infra, database_url, prefix, env)


def drop_test_env(test_env: TestEnv) -> None:
    """Drop the database. ``WITH (FORCE)`` ends our own leftover sessions but may not end an autovacuum worker
    (the superuser's); a plain ``DROP DATABASE`` stops those itself, so it is the second try."""
    name = urlsplit(test_env.database_url).path.lstrip("/")
    for attempt in range(5):
        for statement in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'DROP DATABASE IF EXISTS "{name}"'):
            done = subprocess.run(["psql", libpq(test_env.infra.database_url), "-q", "-c", statement],
                                  capture_output=True, text=True, check=False, timeout=60)
            if done.returncode == 0:
                return
        time.sleep(1 + attempt)
    print(f"could not drop database {name}: {done.stderr.strip()}", file=sys.stderr)
