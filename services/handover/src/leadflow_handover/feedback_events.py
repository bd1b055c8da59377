"""The events handover publishes about assignments and sales feedback, as outbox rows in the handover schema.

Event ids are derived from the handover and what happened, so recording the same decision
again (it never is: the row lock and the state machine see to that) would give the same id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from leadflow_events import (
    HANDOVER_ASSIGNED_V1, HANDOVER_FEEDBACK_RECORDED_V1, HANDOVER_SLA_BREACHED_V1, AssignmentReason, CloudEvent,
    FeedbackChannel, FeedbackDecision, HandoverAssigned, HandoverFeedbackRecorded, HandoverSlaBreached, RejectionReason,
    encode_event,
)
from leadflow_runtime.kafka import CLOUDEVENT_HEADERS
from leadflow_runtime.outbox import SHARDS, outbox_row

SOURCE = "/leadflow/handover"
SCHEMA_BASE = "https://leadflow.dev/schemas/"
EVENT_NAMESPACE = uuid.UUID("6f1f4a4e-4c45-4144-8a46-4c4f57000006")
# Scoring's outbox relay takes the same advisory locks (one per shard) in the same database; handover's rows
# use shards of their own, so neither relay ever waits for, or skips a shard because of, the other.
SHARD_OFFSET = 1000 + SHARDS


def _row(topic: str, lead_id: str, event: CloudEvent[Any]) -> dict[str, Any]:
    row = outbox_row(topic, lead_id.encode(), encode_event(event), CLOUDEVENT_HEADERS)
    return row | {"shard": SHARD_OFFSET + row["shard"]}


def feedback_recorded(
    topic: str, row: Any, decision: FeedbackDecision, at: datetime, channel: FeedbackChannel
) -> dict[str, Any]:
    """The outbox row of ``leadflow.handover.feedback_recorded.v1`` for a handover row as it is after ``decision``."""
    amount = row.amount
    data = HandoverFeedbackRecorded(
        lead_id=str(row.lead_id), handover_id=row.id, stage_event_id=row.stage_event_id, decision=decision,
        reason=RejectionReason(row.rejection_reason) if decision is FeedbackDecision.REJECTED and row.rejection_reason else None,
        note=row.note if decision in (FeedbackDecision.ACCEPTED, FeedbackDecision.REJECTED) else None,
        outcome_reason=row.outcome_reason if decision in (FeedbackDecision.WON, FeedbackDecision.LOST) else None,
        amount=float(amount) if isinstance(amount, (Decimal, int, float)) and decision in (FeedbackDecision.WON, FeedbackDecision.LOST) else None,
        currency=row.currency if decision in (FeedbackDecision.WON, FeedbackDecision.LOST) else None,
        qualified_at=row.qualified_at, handed_over_at=row.handed_over_at, decided_at=at, team=row.team, member=row.member,
        channel=channel, sla_breached=row.escalations > 0,
    )
    event = CloudEvent[HandoverFeedbackRecorded](
        id=str(uuid.uuid5(EVENT_NAMESPACE, f"{row.id}:{decision.value}")), source=SOURCE, type=HANDOVER_FEEDBACK_RECORDED_V1,
        time=at, subject=str(row.lead_id), dataschema=SCHEMA_BASE + f"{HANDOVER_FEEDBACK_RECORDED_V1}.schema.json", data=data,
    )
    return _row(topic, str(row.lead_id), event)


def sla_breached(
    topic: str, row: Any, number: int, at: datetime, escalated_to: str | None, reassigned_to: str | None
) -> dict[str, Any]:
    """The outbox row of ``leadflow.handover.sla_breached.v1`` for a handover row as it was when its deadline passed."""
    data = HandoverSlaBreached(
        lead_id=str(row.lead_id), handover_id=row.id, stage_event_id=row.stage_event_id, escalation=number,
        deadline=row.sla_deadline, breached_at=at, qualified_at=row.qualified_at, team=row.team, missed_by=row.member,
        escalated_to=escalated_to, reassigned_to=reassigned_to,
    )
    event = CloudEvent[HandoverSlaBreached](
        id=str(uuid.uuid5(EVENT_NAMESPACE, f"{row.id}:sla:{number}")), source=SOURCE, type=HANDOVER_SLA_BREACHED_V1,
        time=at, subject=str(row.lead_id), dataschema=SCHEMA_BASE + f"{HANDOVER_SLA_BREACHED_V1}.schema.json", data=data,
    )
    return _row(topic, str(row.lead_id), event)


def assigned(
    topic: str, *, lead_id: str, handover_id: str, stage_event_id: str, team: str | None, member: str | None,
    rule: str | None, at: datetime, reason: AssignmentReason, number: int = 0,
) -> dict[str, Any]:
    """The outbox row of ``leadflow.handover.assigned.v1``; ``number`` 0 is the handover's first assignment, ``n`` the
    reassignment after its n-th missed deadline."""
    data = HandoverAssigned(
        lead_id=lead_id, handover_id=handover_id, stage_event_id=stage_event_id, team=team, member=member, assigned_at=at,
        reason=reason, rule=rule,
    )
    event = CloudEvent[HandoverAssigned](
        id=str(uuid.uuid5(EVENT_NAMESPACE, f"{handover_id}:assigned:{number}")), source=SOURCE, type=HANDOVER_ASSIGNED_V1,
        time=at, subject=lead_id, dataschema=SCHEMA_BASE + f"{HANDOVER_ASSIGNED_V1}.schema.json", data=data,
    )
    return _row(topic, lead_id, event)
