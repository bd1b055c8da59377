"""Turns the domain's ``StageChanged`` into the public ``leadflow.lead.stage_changed.v1`` event."""

from __future__ import annotations

import uuid

from leadflow_events import (
    LEAD_STAGE_CHANGED_V1, CloudEvent, LeadProfile, LeadSnapshot, LeadStageChanged, ModelVersion,
    ScoreReason, Scores, StageCause,
)

from leadflow_scoring.domain.leads import LeadState
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.scoring import StageChanged, top_reasons

SOURCE = "/leadflow/scoring"
DATASCHEMA = "https://leadflow.dev/schemas/leadflow.lead.stage_changed.v1.schema.json"
EVENT_NAMESPACE = uuid.UUID("6f1f4a4e-4c45-4144-8a46-4c4f57000002")
PROFILE_FIELDS = frozenset(LeadProfile.model_fields)
StageChangedEvent = CloudEvent[LeadStageChanged]  # parametrised once: pydantic's generic lookup costs per call


def stage_event_id(change: StageChanged) -> str:
    """Deterministic, so a reprocessed touchpoint yields the same id and consumers drop the repeat."""
    cause = change.touchpoint_id or change.handover_id or change.occurred_at.isoformat()
    seed = f"{change.lead_id}:{cause}:{change.from_stage}->{change.to_stage}:{change.cause}"
    return str(uuid.uuid5(EVENT_NAMESPACE, seed))


def stage_event(change: StageChanged, lead: LeadState, model: ScoringModel, traceparent: str | None) -> CloudEvent[LeadStageChanged]:
    profile = {k: v for k, v in lead.profile.items() if k in PROFILE_FIELDS}
    data = LeadStageChanged(
        lead_id=change.lead_id,
        from_stage=change.from_stage,
        to_stage=change.to_stage,
        scores=Scores(score=change.score, fit=change.fit, engagement=change.engagement),
        cause=StageCause(kind=change.cause, touchpoint_id=change.touchpoint_id, rule_id=change.rule_id, reason=change.reason,
                         handover_id=change.handover_id, rejection_reason=change.rejection_reason),
        model=ModelVersion(id=model.id, hash=model.hash),
        occurred_at=change.occurred_at,
        lead=LeadSnapshot(email=lead.email, anonymous_id=lead.anonymous_id, profile=LeadProfile(**profile)),
        top_reasons=[ScoreReason(rule_id=r, points=p, reason=why) for r, p, why in top_reasons(lead, model)],
    )
    return StageChangedEvent(
        id=stage_event_id(change),
        source=SOURCE,
        type=LEAD_STAGE_CHANGED_V1,
        time=change.occurred_at,
        subject=change.lead_id,
        dataschema=DATASCHEMA,
        traceparent=traceparent,
        data=data,
    )
