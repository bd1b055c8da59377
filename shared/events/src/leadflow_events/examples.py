"""One realistic example of every event type, built from the models (so it is valid by construction).

Used for the AsyncAPI document, ``docs/events.md`` and tests; handy for subscribers' own tests too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow_events.envelope import CloudEvent
from leadflow_events.feedback import (
    HANDOVER_ASSIGNED_V1,
    HANDOVER_FEEDBACK_RECORDED_V1,
    HANDOVER_SLA_BREACHED_V1,
    AssignmentReason,
    FeedbackChannel,
    FeedbackDecision,
    HandoverAssigned,
    HandoverFeedbackRecorded,
    HandoverSlaBreached,
    RejectionReason,
)
from leadflow_events.privacy import LEAD_ERASED_V1, LeadErased
from leadflow_events.stages import (
    LEAD_STAGE_CHANGED_V1,
    LeadSnapshot,
    LeadStageChanged,
    ModelVersion,
    ScoreReason,
    Scores,
    Stage,
    StageCause,
    StageCauseKind,
)
from leadflow_events.touchpoints import (
    TOUCHPOINT_RECORDED_V1,
    LeadIdentity,
    LeadProfile,
    TouchpointRecorded,
    TouchpointType,
)

SCHEMA_BASE = "https://leadflow.dev/schemas/"
AT = datetime(2026, 11, 27, 9, 30, 12, tzinfo=UTC)
LEAD_ID = "0b6c3a5e-8f0e-4d7b-9a51-2c1f6e4d8a90"
TOUCHPOINT_ID = "5d1e7f02-3a44-4c1b-8e2f-6b7a9c0d1e23"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PROFILE = LeadProfile(
    first_name="Ada", last_name="Lovelace", company="Acme GmbH", job_title="Head of IT",
    company_size=250, industry="Manufacturing", country="DE",
)


def example_touchpoint_recorded() -> CloudEvent[TouchpointRecorded]:
    """Ada asks for a demo on the website."""
    data = TouchpointRecorded(
        touchpoint_type=TouchpointType.DEMO_REQUESTED,
        occurred_at=AT,
        identity=LeadIdentity(email="ada@acme.example"),
        profile=PROFILE,
        properties={"form_id": "demo", "page_url": "https://www.example.com/demo", "utm_source": "newsletter"},
        source_id="website",
        received_at=AT,
    )
    return CloudEvent[TouchpointRecorded](
        id=TOUCHPOINT_ID, source="/leadflow/ingest", type=TOUCHPOINT_RECORDED_V1, time=AT,
        subject="ada@acme.example", dataschema=SCHEMA_BASE + f"{TOUCHPOINT_RECORDED_V1}.schema.json",
        traceparent=TRACEPARENT, data=data,
    )


def example_lead_stage_changed() -> CloudEvent[LeadStageChanged]:
    """The demo request takes Ada from MQL to SQL."""
    data = LeadStageChanged(
        lead_id=LEAD_ID,
        from_stage=Stage.MQL,
        to_stage=Stage.SQL,
        scores=Scores(score=130, fit=35, engagement=95),
        cause=StageCause(
            kind=StageCauseKind.TOUCHPOINT, touchpoint_id=TOUCHPOINT_ID, rule_id="demo-request",
            reason="Score 130 reached the SQL threshold 100 after 'demo-request' (+55).",
        ),
        model=ModelVersion(id="default", hash="9f2c4e1ab37d6058"),
        occurred_at=AT,
        lead=LeadSnapshot(email="ada@acme.example", profile=PROFILE),
        top_reasons=[
            ScoreReason(rule_id="demo-request", points=55, reason="Requested a demo (form +50, demo +5 as in Predictable Revenue)"),
            ScoreReason(rule_id="webinar", points=25, reason="Attended a webinar"),
            ScoreReason(rule_id="decision-maker", points=15, reason="Senior role (head, director, VP, C-level, owner)"),
            ScoreReason(rule_id="content-download", points=15, reason="Downloaded a lead magnet (whitepaper, e-book)"),
            ScoreReason(rule_id="business-email", points=10, reason="Uses a business e-mail address"),
        ],
    )
    return CloudEvent[LeadStageChanged](
        id="8e4f2b6a-1c3d-5e7f-9a0b-c1d2e3f4a5b6", source="/leadflow/scoring", type=LEAD_STAGE_CHANGED_V1,
        time=AT, subject=LEAD_ID, dataschema=SCHEMA_BASE + f"{LEAD_STAGE_CHANGED_V1}.schema.json",
        traceparent=TRACEPARENT, data=data,
    )


def example_lead_erased() -> CloudEvent[LeadErased]:
    data = LeadErased(
        lead_id=LEAD_ID, key_hash="3f1d5f6a0c0e4b1f9d7c2a8b5e6f7a8091a2b3c4d5e6f708192a3b4c5d6e7f80", reason="request",
        erased_at=AT,
    )
    return CloudEvent[LeadErased](
        id="0b7c1d2e-3f40-5a6b-8c7d-9e0f1a2b3c4d", source="/leadflow/scoring", type=LEAD_ERASED_V1, time=AT,
        subject=LEAD_ID, dataschema=SCHEMA_BASE + f"{LEAD_ERASED_V1}.schema.json", data=data,
    )


HANDOVER_ID = "ho_6a1f0c2d9e8b4f7a8c3d2e1f0a9b8c7d"
SQL_EVENT_ID = "8e4f2b6a-1c3d-5e7f-9a0b-c1d2e3f4a5b6"


def example_handover_assigned() -> CloudEvent[HandoverAssigned]:
    """Ada becomes SQL: the DACH rule sends her to the enterprise team, whose round-robin gives her to Anna."""
    assigned = AT + timedelta(seconds=1)
    data = HandoverAssigned(
        lead_id=LEAD_ID, handover_id=HANDOVER_ID, stage_event_id=SQL_EVENT_ID, team="enterprise-dach", member="anna",
        assigned_at=assigned, reason=AssignmentReason.ROUTING, rule="dach-enterprise",
    )
    return CloudEvent[HandoverAssigned](
        id="1a2b3c4d-5e6f-5a7b-8c9d-0e1f2a3b4c5d", source="/leadflow/handover", type=HANDOVER_ASSIGNED_V1,
        time=assigned, subject=LEAD_ID, dataschema=SCHEMA_BASE + f"{HANDOVER_ASSIGNED_V1}.schema.json", data=data,
    )


def example_handover_feedback_recorded() -> CloudEvent[HandoverFeedbackRecorded]:
    """Sales sends Ada back to nurture: interested, but not before next quarter."""
    decided = AT + timedelta(minutes=42)
    data = HandoverFeedbackRecorded(
        lead_id=LEAD_ID, handover_id=HANDOVER_ID, stage_event_id=SQL_EVENT_ID, decision=FeedbackDecision.REJECTED,
        reason=RejectionReason.NOT_NOW, note="Budget opens in Q2; call again in March.", qualified_at=AT,
        handed_over_at=AT + timedelta(seconds=1), decided_at=decided, team="enterprise-dach", member="anna",
        channel=FeedbackChannel.LINK,
    )
    return CloudEvent[HandoverFeedbackRecorded](
        id="3c9d1e2f-4a5b-5c6d-8e7f-0a1b2c3d4e5f", source="/leadflow/handover", type=HANDOVER_FEEDBACK_RECORDED_V1,
        time=decided, subject=LEAD_ID, dataschema=SCHEMA_BASE + f"{HANDOVER_FEEDBACK_RECORDED_V1}.schema.json", data=data,
    )


def example_handover_sla_breached() -> CloudEvent[HandoverSlaBreached]:
    """Nobody accepted Ada within the hour: the team lead is told and Jonas gets the lead."""
    breached = AT + timedelta(hours=1, seconds=4)
    data = HandoverSlaBreached(
        lead_id=LEAD_ID, handover_id=HANDOVER_ID, stage_event_id=SQL_EVENT_ID, escalation=1,
        deadline=AT + timedelta(hours=1, seconds=1), breached_at=breached, qualified_at=AT, team="enterprise-dach",
        missed_by="anna", escalated_to="team-lead-slack", reassigned_to="jonas",
    )
    return CloudEvent[HandoverSlaBreached](
        id="7d2e3f40-5b6c-5d7e-9f80-1a2b3c4d5e6f", source="/leadflow/handover", type=HANDOVER_SLA_BREACHED_V1,
        time=breached, subject=LEAD_ID, dataschema=SCHEMA_BASE + f"{HANDOVER_SLA_BREACHED_V1}.schema.json", data=data,
    )


EXAMPLE_BUILDERS: dict[str, Callable[[], CloudEvent[Any]]] = {
    HANDOVER_ASSIGNED_V1: example_handover_assigned,
    HANDOVER_FEEDBACK_RECORDED_V1: example_handover_feedback_recorded,
    HANDOVER_SLA_BREACHED_V1: example_handover_sla_breached,
    LEAD_STAGE_CHANGED_V1: example_lead_stage_changed,
    LEAD_ERASED_V1: example_lead_erased,
    TOUCHPOINT_RECORDED_V1: example_touchpoint_recorded,
}


def example_events() -> dict[str, CloudEvent[Any]]:
    """``{event type: example event}`` for every type this package knows."""
    return {event_type: build() for event_type, build in EXAMPLE_BUILDERS.items()}


def example_summary(event_type: str) -> str:
    """One line saying what the example of ``event_type`` shows."""
    return (EXAMPLE_BUILDERS[event_type].__doc__ or event_type).strip().splitlines()[0]
