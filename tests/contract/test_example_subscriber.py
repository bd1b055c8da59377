"""The example nurture subscriber against the real broker: its own group, dedupe, recycled leads.

The subscriber runs as its documented command (``python -m examples.nurture_subscriber``)
with ``--max-idle-seconds`` so it stops by itself once the topic is drained.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from leadflow_events import (
    LEAD_STAGE_CHANGED_V1, CloudEvent, LeadProfile, LeadSnapshot, LeadStageChanged, ModelVersion, Scores, Stage,
    StageCause, StageCauseKind, encode_event,
)
from tests.support.events import T0
from tests.support.kafka import produce

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
HEADERS = [("content-type", b"application/cloudevents+json")]
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def stage_record(lead_id: str, email: str, from_stage: Stage | None, to_stage: Stage, n: int, score: int) -> Record:
    """A stage event as the scoring service publishes it (key = lead id)."""
    data = LeadStageChanged(
        lead_id=lead_id, from_stage=from_stage, to_stage=to_stage, scores=Scores(score=score, fit=20, engagement=score - 20),
        cause=StageCause(kind=StageCauseKind.DECAY, reason=f"Score {score} after the change to {to_stage.value}."),
        model=ModelVersion(id="default", hash="abc"), occurred_at=T0 + timedelta(minutes=n),
        lead=LeadSnapshot(email=email, profile=LeadProfile(first_name=email.split("@")[0].title(), company="Acme GmbH")),
    )
    event = CloudEvent[LeadStageChanged](
        id=str(uuid.uuid4()), source="/leadflow/scoring", type=LEAD_STAGE_CHANGED_V1, time=data.occurred_at,
        subject=lead_id, data=data,
    )
    return lead_id.encode(), encode_event(event), list(HEADERS)


def journey(email: str, *stages: Stage, score: int = 50) -> tuple[str, list[Record]]:
    lead_id = str(uuid.uuid4())
    steps = zip((None, *stages[:-1]), stages, strict=True)
    return lead_id, [stage_record(lead_id, email, a, b, n, score) for n, (a, b) in enumerate(steps)]


async def run_subscriber(test_env, state_dir: Path, group: str) -> tuple[str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "examples.nurture_subscriber", "--state-dir", str(state_dir), "--group", group,
        "--max-idle-seconds", "3",
        cwd=ROOT, env={**os.environ, **test_env.env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, f"subscriber failed ({proc.returncode}):\n{out.decode()}\n{err.decode()}"
    return out.decode(), err.decode()


def lists(state_dir: Path) -> dict[str, list[dict]]:
    return json.loads((state_dir / "nurture.json").read_text())


async def test_nurture_list_holds_the_recycled_lead_exactly_once(test_env, tmp_path):
    recycled_id, recycled = journey("rita@acme.example", Stage.LEAD, Stage.MQL, Stage.LEAD)
    mql_id, new_mql = journey("max@acme.example", Stage.LEAD, Stage.MQL, score=70)
    _, moved_on = journey("sam@acme.example", Stage.LEAD, Stage.MQL, Stage.SQL, score=120)
    recycle_event = recycled[-1]
    newer = orjson.loads(new_mql[-1][1]) | {"type": "leadflow.lead.stage_changed.v2", "id": str(uuid.uuid4())}
    records = [
        *recycled, recycle_event,  # the recycle record twice: same id, as after a relay restart
        *new_mql, *moved_on,
        (mql_id.encode(), orjson.dumps(newer), list(HEADERS)),  # a newer major version: skipped, with a warning
        (b"junk", b"not an event", list(HEADERS)),  # a broken record: skipped
    ]
    await produce(test_env.infra.kafka_bootstrap, test_env.stages_topic, records)
    state = tmp_path / "nurture"
    group = f"{test_env.prefix}.nurture"

    out, err = await run_subscriber(test_env, state, group)

    got = lists(state)
    assert [lead["lead_id"] for lead in got["recycled"]] == [recycled_id]
    assert got["recycled"][0]["email"] == "rita@acme.example"
    assert got["recycled"][0]["name"] == "Rita" and got["recycled"][0]["score"] == 50
    assert [lead["lead_id"] for lead in got["new_mqls"]] == [mql_id]
    assert out.count(f"+ recycled: rita@acme.example [{recycled_id}]") == 1
    assert f"- new_mqls: rita@acme.example [{recycled_id}] (now lead)" in out
    assert out.count("= duplicate event") == 1
    assert "8 events applied, 1 duplicates skipped, 2 records skipped; 1 recycled, 1 new MQLs" in out
    assert "leadflow.lead.stage_changed.v2 is a newer major version than this package knows (v1)" in err
    assert "record value is not JSON" in err

    # The same recycle event once more, later (a producer retry): the group resumes where it was and drops it.
    await produce(test_env.infra.kafka_bootstrap, test_env.stages_topic, [recycle_event])
    out, _ = await run_subscriber(test_env, state, group)
    assert "0 events applied, 1 duplicates skipped, 0 records skipped; 1 recycled, 1 new MQLs" in out
    assert lists(state) == got

    # A replay from the beginning (new group, same state): every event is a duplicate, nothing changes.
    out, _ = await run_subscriber(test_env, state, f"{group}.replay")
    assert "0 events applied, 10 duplicates skipped, 2 records skipped" in out
    assert lists(state) == got
