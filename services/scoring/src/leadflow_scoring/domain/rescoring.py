"""A model change applied to one lead: its new state from history, and the stage changes it causes.

Sales owns SQL and every later stage: a model change updates such a lead's scores but
never takes it back from sales (and so never hands it over twice).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from leadflow_events import Stage, StageCauseKind

from leadflow_scoring.domain.leads import LeadState
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.scoring import Scored, StageChanged
from leadflow_scoring.domain.simulation import Replayed
from leadflow_scoring.domain.stages import SALES_OWNED

PATHS: dict[tuple[Stage, Stage], tuple[Stage, ...]] = {
    (Stage.LEAD, Stage.SQL): (Stage.MQL, Stage.SQL),
}


def rescore(current: LeadState, replayed: Replayed, model: ScoringModel, at: datetime) -> Scored:
    new = replayed.state
    # a lead sales sent back waits for new engagement: a model change alone does not hand it over again
    keep_stage = current.stage in SALES_OWNED or new.stage is current.stage or current.requalify_at is not None
    state = replace(
        new,
        lead_id=current.lead_id,
        lead_key=current.lead_key,
        created_at=current.created_at,
        stage=current.stage if keep_stage else new.stage,
        stage_changed_at=current.stage_changed_at if keep_stage else at,
        disqualified_reason=current.disqualified_reason if current.stage in SALES_OWNED else new.disqualified_reason,
        requalify_at=current.requalify_at,
    )
    changes: list[StageChanged] = []
    if not keep_stage:
        previous = current.stage
        for target in PATHS.get((current.stage, new.stage), (new.stage,)):
            changes.append(StageChanged(
                lead_id=current.lead_id, from_stage=previous, to_stage=target, occurred_at=at,
                cause=StageCauseKind.MODEL_CHANGED, touchpoint_id=None, rule_id=None,
                reason=f"Scoring model changed to {model.id} ({model.hash}): score {new.score} "
                f"(was {current.score}).",
                score=new.score, fit=new.fit, engagement=new.engagement,
            ))
            previous = target
    return Scored(state, tuple(e for e, _ in replayed.ledger), tuple(changes), False)
