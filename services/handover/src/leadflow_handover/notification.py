"""The body sent to sales webhooks (the HTTP contract with receivers, version ``leadflow.handover.v1``).

Within v1 fields are only added. Slack, HubSpot and Salesforce messages are rendered from
this same document, so it is the one record of what a destination was told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadflow_events import LeadProfile, LeadStageChanged, ScoreReason, Scores, Stage, StageCauseKind

from leadflow_handover.stage_extras import StageExtras

NOTIFICATION_TYPE = "leadflow.handover.v1"


class NotifiedLead(BaseModel):
    id: str
    email: str | None
    profile: LeadProfile
    properties: dict[str, Any] = Field(default_factory=dict, description="Free lead properties, when the stage event carries them.")
    url: str = Field(description="Where to look at the lead in Leadflow.")


class Cause(BaseModel):
    kind: StageCauseKind
    rule_id: str | None = None
    touchpoint_id: str | None = None
    reason: str


class Assignee(BaseModel):
    """Who in sales owns the lead now, and why; ``member_id`` is None when nobody was available."""

    team: str | None
    member_id: str | None
    name: str | None = None
    email: str | None = None
    owner_ids: dict[str, str] = Field(default_factory=dict, description="The member in other systems (hubspot, salesforce, slack).")
    rule: str | None = Field(default=None, description="The routing rule that chose the team.")
    reason: str


class RecentTouchpoint(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str | None = None
    occurred_at: datetime | None = None


class Feedback(BaseModel):
    """Where sales answers the handover; the links are signed, expire, and show a confirmation page first."""

    handover: str = Field(description="The handover record: GET /v1/handovers/{id}; accept, reject and outcome there.")
    respond_by: datetime | None = Field(description="The acceptance deadline; null when there is none.")
    accept_url: str | None = Field(default=None, description="Signed link to accept; null when links are not configured.")
    reject_url: str | None = Field(default=None, description="Signed link to reject with a reason; null when links are not configured.")
    links_expire_at: datetime | None = None


class Escalation(BaseModel):
    """Present when this message is about a missed acceptance deadline, not the first handover."""

    kind: Literal["sla_missed", "reassigned"] = Field(
        description="`sla_missed`: to the escalation destination; `reassigned`: to the lead's new owner."
    )
    number: int = Field(description="1 for the first missed deadline of the handover, 2 for the next, ...")
    deadline: datetime
    missed_by: str | None = Field(description="The team member who had the lead.")
    reassigned_to: str | None = Field(description="The team member who has it now, when it was reassigned.")
    reason: str


class HandoverNotification(BaseModel):
    type: str = NOTIFICATION_TYPE
    handover_id: str = Field(description="Same as the webhook-id header; stable across retries and replays.")
    stage: Stage
    previous_stage: Stage | None
    qualified_at: datetime
    lead: NotifiedLead
    scores: Scores
    grade: str | None = Field(default=None, description="Fit x engagement grade (e.g. A2), when the stage event carries it.")
    why: str = Field(description="What tipped the lead over, in one sentence.")
    cause: Cause
    top_reasons: list[ScoreReason]
    recent_touchpoints: list[RecentTouchpoint] | None = Field(
        default=None, description="Newest first; null when the stage event does not carry them (v1 events do not yet)."
    )
    assignee: Assignee | None = Field(default=None, description="Null when routing is not configured for this stage.")
    stage_event_id: str
    feedback: Feedback | None = Field(default=None, description="How to accept or reject; SQL handovers only.")
    escalation: Escalation | None = Field(default=None, description="Null except on escalation and reassignment messages.")


def build_notification(
    handover_id: str,
    stage_event_id: str,
    change: LeadStageChanged,
    lead_url: str,
    extras: StageExtras = StageExtras(),
    assignee: Assignee | None = None,
    feedback: Feedback | None = None,
) -> HandoverNotification:
    return HandoverNotification(
        handover_id=handover_id,
        stage=change.to_stage,
        previous_stage=change.from_stage,
        qualified_at=change.occurred_at,
        lead=NotifiedLead(
            id=change.lead_id, email=change.lead.email, profile=change.lead.profile, properties=extras.properties,
            url=lead_url.format(lead_id=change.lead_id),
        ),
        scores=change.scores,
        grade=extras.grade,
        why=change.cause.reason,
        cause=Cause(kind=change.cause.kind, rule_id=change.cause.rule_id, touchpoint_id=change.cause.touchpoint_id,
                    reason=change.cause.reason),
        top_reasons=change.top_reasons,
        recent_touchpoints=_touchpoints(extras.recent_touchpoints),
        assignee=assignee,
        stage_event_id=stage_event_id,
        feedback=feedback,
    )


def _touchpoints(raw: list[dict[str, Any]] | None) -> list[RecentTouchpoint] | None:
    """Malformed entries are left out: an optional extra must never stop a handover."""
    if raw is None:
        return None
    parsed = []
    for item in raw:
        try:
            parsed.append(RecentTouchpoint.model_validate(item))
        except ValidationError:
            continue
    return parsed
