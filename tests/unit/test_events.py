"""Event contracts: round trips, clear rejections, committed schemas in step with the models."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from leadflow_events import (
    TOUCHPOINT_RECORDED_V1, CloudEvent, ContractViolation, LeadIdentity, TouchpointRecorded, TouchpointType,
    UnknownEventType, decode_event, encode_event,
)
from leadflow_events.schemas import stale_files

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def touchpoint_event() -> CloudEvent[TouchpointRecorded]:
    data = TouchpointRecorded(
        touchpoint_type=TouchpointType.FORM_SUBMITTED, occurred_at=NOW, received_at=NOW,
        identity=LeadIdentity(email="ada@acme.example"),
    )
    return CloudEvent[TouchpointRecorded](id="e1", source="/test", type=TOUCHPOINT_RECORDED_V1, time=NOW, data=data)


def test_round_trip():
    event = touchpoint_event()
    decoded = decode_event(encode_event(event), [("content-type", b"application/cloudevents+json")])
    assert decoded == event
    assert decoded.data.identity.lead_key == "ada@acme.example"


def test_structured_mode_envelope_fields():
    raw = orjson.loads(encode_event(touchpoint_event()))
    assert raw["specversion"] == "1.0"
    assert {"id", "source", "type", "time", "data", "datacontenttype"} <= raw.keys()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"type": "leadflow.touchpoint.recorded.v9"}', "unknown event type"),
        (b'{"type": "leadflow.touchpoint.recorded.v1", "id": "x", "source": "s", "time": "2026-01-01T00:00:00Z", "data": {}}',
         "violates its schema"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(value, message):
    with pytest.raises(ContractViolation, match=message):
        decode_event(value)


def test_unknown_major_version_is_its_own_error():
    with pytest.raises(UnknownEventType):
        decode_event(b'{"type": "leadflow.lead.stage_changed.v2"}')


def test_anonymous_lead_key():
    assert LeadIdentity(anonymous_id="c00kie").lead_key == "anon:c00kie"
    with pytest.raises(ValueError):
        LeadIdentity()


def test_committed_schemas_match_the_models():
    stale = stale_files()
    assert not stale, f"regenerate with `uv run leadflow-schemas write`: {stale}"


def test_payload_nulls_survive_a_round_trip():
    from leadflow_events import (
        LEAD_STAGE_CHANGED_V1, LeadSnapshot, LeadStageChanged, ModelVersion, Scores, Stage, StageCause, StageCauseKind,
    )

    data = LeadStageChanged(
        lead_id="l1", from_stage=None, to_stage=Stage.LEAD, scores=Scores(score=0), occurred_at=NOW,
        cause=StageCause(kind=StageCauseKind.TOUCHPOINT, reason="first"), model=ModelVersion(id="m", hash="h"),
        lead=LeadSnapshot(email="a@b.example"),
    )
    event = CloudEvent[LeadStageChanged](id="s1", source="/t", type=LEAD_STAGE_CHANGED_V1, time=NOW, data=data)
    raw = orjson.loads(encode_event(event))
    assert "subject" not in raw  # unset envelope attribute: left out
    assert raw["data"]["from_stage"] is None
    assert decode_event(encode_event(event)) == event


def test_an_assignment_without_team_or_member_is_valid_and_its_reason_is_a_fixed_word():
    from leadflow_events import HANDOVER_ASSIGNED_V1, AssignmentReason, HandoverAssigned

    data = HandoverAssigned(lead_id="l1", handover_id="ho_1", stage_event_id="s1", assigned_at=NOW,
                            reason=AssignmentReason.ROUTING)
    event = CloudEvent[HandoverAssigned](id="a1", source="/t", type=HANDOVER_ASSIGNED_V1, time=NOW, subject="l1", data=data)
    raw = orjson.loads(encode_event(event))
    assert (raw["data"]["team"], raw["data"]["member"], raw["data"]["rule"]) == (None, None, None)  # nobody: said, not left out
    assert decode_event(encode_event(event), expected=[HANDOVER_ASSIGNED_V1]) == event
    raw["data"]["reason"] = "because"
    with pytest.raises(ContractViolation, match=r"data\.reason"):
        decode_event(orjson.dumps(raw))
    del raw["data"]["assigned_at"]
    raw["data"]["reason"] = "sla_reassignment"
    with pytest.raises(ContractViolation, match=r"data\.assigned_at"):
        decode_event(orjson.dumps(raw))
