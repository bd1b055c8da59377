"""Handovers and sales feedback: accept, reject with a reason, won, lost - recorded with the event that tells scoring.

A decision locks the handover row, asks the state machine (``domain.feedback``) whether it is
new, a repeat or a contradiction, and - when new - updates the row and writes
``leadflow.handover.feedback_recorded.v1`` to the outbox in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from leadflow_events import FeedbackChannel, FeedbackDecision, RejectionReason

from leadflow_handover import feedback_events
from leadflow_handover.adapters import handover_store as store
from leadflow_handover.adapters.tables import outbox
from leadflow_handover.domain.feedback import HandoverStatus, Outcome, decide
from leadflow_handover.domain.routing import Routing
from leadflow_handover.domain.sla import SlaPolicy, effective

HANDOVER_NAMESPACE = uuid.UUID("6f1f4a4e-4c45-4144-8a46-4c4f57000007")

DECISIONS = Counter(
    "leadflow_handover_decisions_total",
    "Sales feedback recorded, by decision (accepted, rejected, won, lost) and rejection reason ('' unless rejected); "
    "acceptance rate = accepted / (accepted + rejected).",
    ["decision", "reason"],
)
TIME_TO_ACCEPTANCE = Histogram(
    "leadflow_handover_time_to_acceptance_seconds", "From the stage change to SQL to the acceptance by sales.", ["team"],
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800),
)


def handover_id(stage_event_id: str) -> str:
    """Deterministic, so a re-consumed stage event maps to the same handover."""
    return "ho_" + uuid.uuid5(HANDOVER_NAMESPACE, stage_event_id).hex


def policy_for(default: SlaPolicy, routing: Routing, team: str | None) -> SlaPolicy:
    found = routing.teams.get(team) if team else None
    return effective(default, found.sla if found is not None else None)


@dataclass(frozen=True)
class SalesFeedback:
    """What sales said, and how it came."""

    decision: FeedbackDecision
    reason: RejectionReason | None = None
    note: str | None = None
    outcome_reason: str | None = None
    amount: float | None = None
    currency: str | None = None
    by: str | None = None
    channel: FeedbackChannel = FeedbackChannel.API


class FeedbackRefused(Exception):
    """Base of what the API turns into a problem document."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class HandoverNotFound(FeedbackRefused):
    def __init__(self, some_id: str) -> None:
        super().__init__(404, f"No handover with id {some_id!r}.")


@dataclass(frozen=True)
class Recorded:
    row: Any
    changed: bool


async def record_feedback(
    conn: AsyncConnection, topic: str, some_id: str, feedback: SalesFeedback, now: datetime, *,
    link_member: str | None = None,
) -> Recorded:
    """Apply ``feedback`` to the handover ``some_id`` (its id or a delivery id); ``link_member``: the member a signed
    link was made for (a link stops working when the lead was reassigned)."""
    hid = await store.resolve(conn, some_id)
    row = await store.get(conn, hid, lock=True) if hid else None
    if row is None:
        raise HandoverNotFound(some_id)
    if feedback.channel is FeedbackChannel.LINK and row.member != link_member:
        raise FeedbackRefused(
            409, f"This link was made for {link_member or 'nobody in particular'}, but the lead was reassigned to "
                 f"{row.member or 'nobody'} after its acceptance deadline passed; use the link in the newer message.",
        )
    verdict = decide(HandoverStatus(row.status), feedback.decision)
    if verdict.outcome is Outcome.CONFLICT:
        raise FeedbackRefused(409, verdict.detail)
    if verdict.outcome is Outcome.SAME:
        return Recorded(row, False)
    values: dict[str, Any] = {"status": verdict.status.value, "decided_by": feedback.by, "channel": feedback.channel.value}
    if feedback.decision is FeedbackDecision.ACCEPTED:
        values |= {"accepted_at": now, "note": feedback.note, "sla_deadline": None}
    elif feedback.decision is FeedbackDecision.REJECTED:
        values |= {"rejected_at": now, "rejection_reason": feedback.reason.value if feedback.reason else None,
                   "note": feedback.note, "sla_deadline": None}
    else:
        values |= {"outcome_at": now, "outcome_reason": feedback.outcome_reason, "amount": feedback.amount,
                   "currency": feedback.currency}
    changed = await store.change(conn, row.id, values)
    await conn.execute(insert(outbox).values(feedback_events.feedback_recorded(topic, changed, feedback.decision, now, feedback.channel)))
    return Recorded(changed, True)


def observe(recorded: Recorded, feedback: SalesFeedback) -> None:
    """Metrics of a decision, once its transaction committed."""
    if not recorded.changed:
        return
    row = recorded.row
    reason = (row.rejection_reason or "") if feedback.decision is FeedbackDecision.REJECTED else ""
    DECISIONS.labels(feedback.decision.value, reason).inc()
    if feedback.decision is FeedbackDecision.ACCEPTED and row.accepted_at is not None:
        TIME_TO_ACCEPTANCE.labels(row.team or "").observe(max((row.accepted_at - row.qualified_at).total_seconds(), 0.0))
