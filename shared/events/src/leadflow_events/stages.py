"""Payload of ``leadflow.lead.stage_changed.v1``: a lead moved in the funnel."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from leadflow_events.feedback import RejectionReason
from leadflow_events.touchpoints import LeadProfile

LEAD_STAGE_CHANGED_V1 = "leadflow.lead.stage_changed.v1"


class Stage(StrEnum):
    """Funnel stages. A rejected or cooled-down lead is recycled back to ``lead``."""

    LEAD = "lead"
    MQL = "mql"
    SQL = "sql"
    SAL = "sal"
    CUSTOMER = "customer"
    LOST = "lost"
    DISQUALIFIED = "disqualified"
    OBJECTED = "objected"


class StageCauseKind(StrEnum):
    TOUCHPOINT = "touchpoint"
    FAST_TRACK = "fast_track"
    DECAY = "decay"
    MODEL_CHANGED = "model_changed"
    SALES_FEEDBACK = "sales_feedback"
    DISQUALIFIED = "disqualified"
    OBJECTION = "objection"


class StageCause(BaseModel):
    """Why the stage changed: the touchpoint and rule that tipped it, or the sales feedback, in words too."""

    model_config = ConfigDict(frozen=True)

    kind: StageCauseKind
    touchpoint_id: str | None = None
    rule_id: str | None = None
    reason: str = Field(description="A sentence a sales rep can read.")
    handover_id: str | None = Field(
        default=None, description="For `sales_feedback`: the handover sales answered (see `leadflow.handover.feedback_recorded.v1`)."
    )
    rejection_reason: RejectionReason | None = Field(
        default=None, description="For a lead sales rejected (recycled to `lead`): why, from the fixed vocabulary."
    )


class Scores(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: int = Field(description="Total points (fit + engagement).")
    fit: int = 0
    engagement: int = 0


class ScoreReason(BaseModel):
    """One line of the score ledger, for explaining the score to sales."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    points: int
    reason: str


class ModelVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    hash: str = Field(description="Content hash of the model file that produced the scores.")


class LeadSnapshot(BaseModel):
    """The lead as known when the stage changed, so subscribers need no call back."""

    model_config = ConfigDict(frozen=True)

    email: str | None = None
    anonymous_id: str | None = None
    profile: LeadProfile = LeadProfile()


class LeadStageChanged(BaseModel):
    """A lead moved from one funnel stage to another, with the scores and the reason why."""

    model_config = ConfigDict(frozen=True)

    lead_id: str
    from_stage: Stage | None = Field(description="None when the lead was just created.")
    to_stage: Stage
    scores: Scores
    cause: StageCause
    model: ModelVersion
    occurred_at: AwareDatetime
    lead: LeadSnapshot
    top_reasons: list[ScoreReason] = Field(default_factory=list)
