"""Where a score takes a lead in the funnel. Sales owns every stage after SQL."""

from __future__ import annotations

from leadflow_events import Stage

from leadflow_scoring.domain.model import Thresholds

SALES_OWNED = frozenset({Stage.SQL, Stage.SAL, Stage.CUSTOMER, Stage.LOST, Stage.DISQUALIFIED, Stage.OBJECTED})


def plan_transitions(
    current: Stage, score: int, fit: int, t: Thresholds, *, fast_tracked: bool = False, engagement: int | None = None,
    requalify_at: int | None = None,
) -> list[Stage]:
    """The stages a lead passes through now, in order (a jump LEAD -> SQL passes MQL).

    Recycling MQL -> LEAD happens only below ``mql - recycle_gap``, so a lead hovering at
    the threshold does not flap; once recycled it can qualify again. A lead sales sent back
    (``requalify_at`` set) qualifies again only at that score - new engagement beyond what
    sales saw - or through a fast track, never at its next page view.
    """
    if current in SALES_OWNED:
        return []
    if current is Stage.LEAD and requalify_at is not None and score < requalify_at and not fast_tracked:
        return []
    engaged = score - fit if engagement is None else engagement
    sql = fast_tracked or (score >= t.sql and fit >= t.sql_min_fit and engaged >= t.sql_min_engagement)
    mql = score >= t.mql and fit >= t.mql_min_fit and engaged >= t.mql_min_engagement
    if current is Stage.LEAD:
        if sql:
            return [Stage.MQL, Stage.SQL]
        if mql:
            return [Stage.MQL]
        return []
    if current is Stage.MQL:
        if sql:
            return [Stage.SQL]
        if score < t.mql - t.recycle_gap:
            return [Stage.LEAD]
    return []
