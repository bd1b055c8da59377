"""What a draft model would change: replay each lead's history with it and compare with today."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from leadflow_events import Stage

from leadflow_scoring.domain.leads import LeadState, LedgerEntry, Touchpoint
from leadflow_scoring.domain.model import ScoringModel
from leadflow_scoring.domain.scoring import Working, new_lead, reevaluate, with_review
from leadflow_scoring.domain.stages import SALES_OWNED

BUCKETS = ((None, 0), (0, 25), (25, 50), (50, 75), (75, 100), (100, 150), (150, None))
RANK = {Stage.LEAD: 0, Stage.MQL: 1, Stage.SQL: 2}


def bucket(score: int) -> str:
    for low, high in BUCKETS:
        if (low is None or score >= low) and (high is None or score < high):
            return f"<{high}" if low is None else (f">={low}" if high is None else f"{low}-{high - 1}")
    raise AssertionError("buckets cover every integer")


@dataclass(frozen=True)
class Replayed:
    state: LeadState
    ledger: tuple[tuple[LedgerEntry, datetime], ...]  # each hit with the time of its touchpoint


def replay_history(history: Iterable[Touchpoint], model: ScoringModel, now: datetime,
                   lead_id: str | None = None) -> Replayed | None:
    """A lead as ``model`` would have it at ``now``, from its touchpoints in order, with its ledger (``lead_id``:
    the stored lead's id, saving its derivation from the key)."""
    work: Working | None = None
    ledger: list[tuple[LedgerEntry, datetime]] = []
    for tp in history:
        created = work is None
        if work is None:
            work = Working(new_lead(tp, lead_id))
        entries, _ = work.apply(tp, model, created)  # the same step as score_touchpoint, on one working copy
        ledger.extend((entry, tp.occurred_at) for entry in entries)
    if work is None:
        return None
    state = with_review(work.freeze(), model)  # only the final state's review time counts
    if state.review_at is not None and state.review_at <= now:
        state = reevaluate(state, model, state.review_at).state
    return Replayed(state, tuple(ledger))


def replay(history: Iterable[Touchpoint], model: ScoringModel, now: datetime) -> LeadState | None:
    replayed = replay_history(history, model, now)
    return replayed.state if replayed else None


@dataclass
class Simulation:
    """Accumulates the comparison lead by lead, so any number of leads fits in memory."""

    model: ScoringModel
    now: datetime
    sample_size: int = 100
    leads: int = 0
    before: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    scores_before: Counter[str] = field(default_factory=Counter)
    scores_after: Counter[str] = field(default_factory=Counter)
    moves: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def add(self, lead_id: str, stage_now: Stage, score_now: int, history: Iterable[Touchpoint]) -> None:
        self.leads += 1
        replayed = replay(history, self.model, self.now)
        score_after = replayed.score if replayed else score_now
        # sales owns SQL and later stages: a model change does not take a lead back from sales
        stage_after = stage_now if stage_now in SALES_OWNED or replayed is None else replayed.stage
        self.before[stage_now.value] += 1
        self.after[stage_after.value] += 1
        self.scores_before[bucket(score_now)] += 1
        self.scores_after[bucket(score_after)] += 1
        if stage_after is stage_now:
            return
        if stage_after in (Stage.MQL, Stage.SQL) and RANK.get(stage_after, 0) > RANK.get(stage_now, 0):
            kind = f"would_become_{stage_after.value}"
        elif stage_after is Stage.DISQUALIFIED:
            kind = "would_be_disqualified"
        else:
            kind = "would_drop"
        self.moves[kind] += 1
        sample = self.samples.setdefault(kind, [])
        if len(sample) < self.sample_size:
            sample.append({"lead_id": lead_id, "from_stage": stage_now.value, "to_stage": stage_after.value,
                           "score_before": score_now, "score_after": score_after})

    def report(self) -> dict[str, object]:
        order = [label for label in (bucket(b[0] if b[0] is not None else -1) for b in BUCKETS)]
        return {
            "model": {"id": self.model.id, "hash": self.model.hash},
            "evaluated_at": self.now,
            "leads": self.leads,
            "stages_before": dict(self.before),
            "stages_after": dict(self.after),
            "changes": {k: {"count": self.moves[k], "sample": self.samples.get(k, [])}
                        for k in ("would_become_mql", "would_become_sql", "would_drop", "would_be_disqualified")},
            "score_distribution": [
                {"bucket": label, "before": self.scores_before[label], "after": self.scores_after[label]} for label in order
            ],
        }
