"""Payloads of the ``leadflow.handover-feedback`` topic: who in sales has a handover, and what sales did with it.

- ``leadflow.handover.assigned.v1``: a handover was given to a team and a member - when the lead
  became SQL, and again whenever it was reassigned.
- ``leadflow.handover.feedback_recorded.v1``: sales accepted or rejected a handover (with a
  reason from a fixed vocabulary), or reported the deal won or lost.
- ``leadflow.handover.sla_breached.v1``: nobody accepted a handover before its deadline; it was
  escalated (and perhaps reassigned).

All are published by the handover service, keyed by the lead id, in order per lead.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

HANDOVER_ASSIGNED_V1 = "leadflow.handover.assigned.v1"
HANDOVER_FEEDBACK_RECORDED_V1 = "leadflow.handover.feedback_recorded.v1"
HANDOVER_SLA_BREACHED_V1 = "leadflow.handover.sla_breached.v1"


class FeedbackDecision(StrEnum):
    """What sales said: ``accepted`` / ``rejected`` answer the handover, ``won`` / ``lost`` come later."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WON = "won"
    LOST = "lost"


class RejectionReason(StrEnum):
    """Why sales sent a lead back (the sales-acceptance vocabulary: procedural, clerical, definitional, ...)."""

    PROCEDURAL = "procedural"
    """The handover process was not followed (wrong team, wrong territory, missing step)."""
    CLERICAL = "clerical"
    """The data is wrong or incomplete (bad phone number, fake name)."""
    DEFINITIONAL = "definitional"
    """The lead does not meet the agreed definition of a sales-qualified lead."""
    NOT_NOW = "not_now"
    """Interested, but not ready to buy now."""
    NOT_A_FIT = "not_a_fit"
    """Not a company or a person sales can sell to."""
    DUPLICATE = "duplicate"
    """Sales already works this person or company."""
    OTHER = "other"
    """Anything else; the note says what."""


class FeedbackChannel(StrEnum):
    API = "api"
    """The JSON API (a CRM integration, a script)."""
    LINK = "link"
    """The signed accept / reject link in a notification."""


class HandoverFeedbackRecorded(BaseModel):
    """Sales accepted or rejected a handover, or reported the deal won or lost."""

    model_config = ConfigDict(frozen=True)

    lead_id: str
    handover_id: str = Field(description="The handover record (`GET /v1/handovers/{id}` on the handover service).")
    stage_event_id: str = Field(description="The `leadflow.lead.stage_changed.v1` event that made the lead SQL.")
    decision: FeedbackDecision
    reason: RejectionReason | None = Field(default=None, description="Why sales rejected the lead; set for `rejected` only.")
    note: str | None = Field(default=None, description="Sales' own words, if any.")
    outcome_reason: str | None = Field(default=None, description="Why the deal was won or lost (`won` / `lost`), if given.")
    amount: float | None = Field(default=None, description="Deal value (`won` / `lost`), in `currency`.")
    currency: str | None = Field(default=None, description="ISO 4217 code of `amount`, e.g. `EUR`.")
    qualified_at: AwareDatetime = Field(description="When the lead became SQL (the stage change).")
    handed_over_at: AwareDatetime = Field(description="When the handover was recorded and assigned.")
    decided_at: AwareDatetime = Field(description="When sales gave this feedback.")
    team: str | None = Field(default=None, description="The team the lead was assigned to.")
    member: str | None = Field(default=None, description="The team member who had the lead when the feedback came.")
    channel: FeedbackChannel = FeedbackChannel.API
    sla_breached: bool = Field(default=False, description="True when the handover missed an acceptance deadline before this.")


class HandoverSlaBreached(BaseModel):
    """Nobody accepted a handover before its deadline: it was escalated, and perhaps reassigned."""

    model_config = ConfigDict(frozen=True)

    lead_id: str
    handover_id: str
    stage_event_id: str
    escalation: int = Field(ge=1, description="1 for the handover's first missed deadline, 2 for the next, ...")
    deadline: AwareDatetime = Field(description="The acceptance deadline that passed.")
    breached_at: AwareDatetime = Field(description="When the escalation was made.")
    qualified_at: AwareDatetime
    team: str | None = None
    missed_by: str | None = Field(default=None, description="The team member who had the lead and did not accept it.")
    escalated_to: str | None = Field(default=None, description="The destination the escalation was sent to, if any.")
    reassigned_to: str | None = Field(default=None, description="The team member the lead went to next, if it was reassigned.")


class AssignmentReason(StrEnum):
    """Why the handover went to this team and member."""

    ROUTING = "routing"
    """The routing rules chose the team and its round-robin the member, when the lead became SQL."""
    SLA_REASSIGNMENT = "sla_reassignment"
    """Nobody accepted before the deadline: the lead went to the next member of the team's round-robin."""


class HandoverAssigned(BaseModel):
    """A handover was assigned to a team and a member: when the lead became SQL, or again when it was reassigned."""

    model_config = ConfigDict(frozen=True)

    lead_id: str
    handover_id: str = Field(description="The handover record (`GET /v1/handovers/{id}` on the handover service).")
    stage_event_id: str = Field(description="The `leadflow.lead.stage_changed.v1` event that made the lead SQL.")
    team: str | None = Field(default=None, description="The team that has the lead; null when no routing rule matched it.")
    member: str | None = Field(
        default=None, description="The member id (as in the routing file) who has the lead now; null when nobody in the "
        "team was available.",
    )
    assigned_at: AwareDatetime = Field(description="When the assignment was made; a later assignment of the lead replaces it.")
    reason: AssignmentReason
    rule: str | None = Field(default=None, description="The routing rule that chose the team, if one did.")
