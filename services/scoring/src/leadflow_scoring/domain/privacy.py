"""Objection (GDPR Art. 21) and erasure (Art. 17) as pure decisions.

An objection keeps only what is needed to honour it - the lead key and the fact - and
moves the lead to ``objected``; nothing is scored or handed over for it again. Erasure
keeps a non-personal tombstone (a hash of the key), so replaying old Kafka records
cannot bring the person back.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType

from leadflow_events import Stage, StageCauseKind

from leadflow_scoring.domain.leads import LeadState
from leadflow_scoring.domain.scoring import Scored, StageChanged

OBJECTION_TYPE = "objected"


def key_hash(lead_key: str) -> str:
    return hashlib.sha256(lead_key.encode()).hexdigest()


def object_to_profiling(lead: LeadState, at: datetime, touchpoint_id: str | None, how: str) -> Scored:
    """The lead after an objection: profile and scores wiped, stage ``objected``."""
    if lead.stage is Stage.OBJECTED:
        return Scored(lead, (), (), False)
    wiped = replace(
        lead, stage=Stage.OBJECTED, stage_changed_at=at, updated_at=max(lead.updated_at, at),
        profile=MappingProxyType({}), engagement=0, fit=0, groups=MappingProxyType({}), rule_hits=MappingProxyType({}),
        recent_hits=MappingProxyType({}), rule_points=MappingProxyType({}), fit_ledger=(), review_at=None,
        disqualified_reason=None,
    )
    change = StageChanged(
        lead_id=lead.lead_id, from_stage=lead.stage, to_stage=Stage.OBJECTED, occurred_at=at, cause=StageCauseKind.OBJECTION,
        reason=f"The person objected to profiling and direct marketing ({how}); scoring and handover stopped.",
        touchpoint_id=touchpoint_id, rule_id=None, score=0, fit=0, engagement=0,
    )
    return Scored(wiped, (), (change,), False)
