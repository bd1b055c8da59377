"""Sales feedback as stage changes: ``(LeadState, SalesFeedback, Thresholds) -> Scored``.

accepted: SQL -> SAL; rejected: SQL -> LEAD (recycled to nurture, with the reason); won:
SAL -> customer; lost: SAL -> lost. Feedback that does not fit the lead's stage (the lead
objected meanwhile, or a late duplicate) changes nothing. A lead sent back keeps its
scores, and qualifies again only once it reaches ``requalify_at`` - its score when sales
rejected it plus the model's ``requalify_gap`` - or through a fast track.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from leadflow_events import FeedbackDecision, RejectionReason, Stage, StageCauseKind

from leadflow_scoring.domain.leads import LeadState
from leadflow_scoring.domain.model import Thresholds
from leadflow_scoring.domain.scoring import Scored, StageChanged

PATHS: dict[FeedbackDecision, dict[Stage, tuple[Stage, ...]]] = {
    FeedbackDecision.ACCEPTED: {Stage.SQL: (Stage.SAL,)},
    FeedbackDecision.REJECTED: {Stage.SQL: (Stage.LEAD,)},
    # won / lost imply the acceptance; the handover service asks for it first, so SQL here means a lost acceptance
    FeedbackDecision.WON: {Stage.SAL: (Stage.CUSTOMER,), Stage.SQL: (Stage.SAL, Stage.CUSTOMER)},
    FeedbackDecision.LOST: {Stage.SAL: (Stage.LOST,), Stage.SQL: (Stage.SAL, Stage.LOST)},
}
REASON_WORDS = {
    RejectionReason.PROCEDURAL: "the handover process was not followed",
    RejectionReason.CLERICAL: "the lead's data is wrong or incomplete",
    RejectionReason.DEFINITIONAL: "it does not meet the agreed SQL definition",
    RejectionReason.NOT_NOW: "interested, but not ready to buy now",
    RejectionReason.NOT_A_FIT: "not a fit for what we sell",
    RejectionReason.DUPLICATE: "sales already works this lead",
    RejectionReason.OTHER: "another reason",
}


@dataclass(frozen=True, slots=True)
class SalesFeedback:
    handover_id: str
    decision: FeedbackDecision
    at: datetime
    reason: RejectionReason | None = None
    note: str | None = None
    outcome_reason: str | None = None
    amount: float | None = None
    currency: str | None = None
    member: str | None = None


def apply_feedback(lead: LeadState, feedback: SalesFeedback, thresholds: Thresholds) -> Scored:
    path = PATHS[feedback.decision].get(lead.stage)
    if not path:
        return Scored(lead, (), (), False)
    changes = []
    current = lead.stage
    requalify_at = lead.score + thresholds.requalify_gap if feedback.decision is FeedbackDecision.REJECTED else None
    for target in path:
        changes.append(StageChanged(
            lead_id=lead.lead_id, from_stage=current, to_stage=target, occurred_at=feedback.at,
            cause=StageCauseKind.SALES_FEEDBACK, reason=_reason(feedback, target, lead.score, requalify_at),
            touchpoint_id=None, rule_id=None, score=lead.score, fit=lead.fit, engagement=lead.engagement,
            handover_id=feedback.handover_id,
            rejection_reason=feedback.reason.value if feedback.reason and target is Stage.LEAD else None,
        ))
        current = target
    state = replace(lead, stage=current, stage_changed_at=feedback.at, review_at=None, requalify_at=requalify_at)
    return Scored(state, (), tuple(changes), False)


def _reason(feedback: SalesFeedback, target: Stage, score: int, requalify_at: int | None) -> str:
    by = f" ({feedback.member})" if feedback.member else ""
    note = f" Note: {feedback.note}" if feedback.note else ""
    if target is Stage.SAL:
        return f"Sales accepted the lead{by}.{note}"
    if target is Stage.LEAD:
        reason = feedback.reason or RejectionReason.OTHER
        return (f"Sales sent the lead back{by}: {reason.value} ({REASON_WORDS[reason]}); recycled to nurture. It qualifies "
                f"again at {requalify_at} points (it has {score}), or at once through a fast track.{note}")
    value = f" ({feedback.amount:,.2f} {feedback.currency or ''})".replace(" )", ")") if feedback.amount is not None else ""
    why = f": {feedback.outcome_reason}" if feedback.outcome_reason else ""
    return f"Sales reported the deal {'won' if target is Stage.CUSTOMER else 'lost'}{value}{why}."
