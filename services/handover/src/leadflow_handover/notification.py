"""The body sent to sales webhooks (the HTTP contract with receivers, version ``leadflow.handover.v1``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from leadflow_events import LeadProfile, LeadStageChanged, ScoreReason, Scores, Stage

NOTIFICATION_TYPE = "leadflow.handover.v1"


class NotifiedLead(BaseModel):
    id: str
    email: str | None
    profile: LeadProfile
    url: str = Field(description="Where to look at the lead in Leadflow.")


class HandoverNotification(BaseModel):
    type: str = NOTIFICATION_TYPE
    handover_id: str = Field(description="Same as the webhook-id header; stable across retries.")
    stage: Stage
    previous_stage: Stage | None
    qualified_at: datetime
    lead: NotifiedLead
    scores: Scores
    why: str = Field(description="What tipped the lead over, in one sentence.")
    top_reasons: list[ScoreReason]
    stage_event_id: str


def build_notification(handover_id: str, stage_event_id: str, change: LeadStageChanged, lead_url: str) -> HandoverNotification:
    return HandoverNotification(
        handover_id=handover_id,
        stage=change.to_stage,
        previous_stage=change.from_stage,
        qualified_at=change.occurred_at,
        lead=NotifiedLead(
            id=change.lead_id, email=change.lead.email, profile=change.lead.profile,
            url=lead_url.format(lead_id=change.lead_id),
        ),
        scores=change.scores,
        why=change.cause.reason,
        top_reasons=change.top_reasons,
        stage_event_id=stage_event_id,
    )
