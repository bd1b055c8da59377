"""The handover service's tables (schema ``handover``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Column, DateTime, Float, ForeignKey, Identity, Index, Integer, MetaData, Numeric, String, Table, Text,
    UniqueConstraint, func, text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from leadflow_runtime.db import consumer_offsets_table
from leadflow_runtime.outbox import outbox_table

SCHEMA = "handover"
metadata = MetaData(schema=SCHEMA)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(64), primary_key=True, comment="Also the webhook-id: stable across retries."),
    Column("stage_event_id", Text, nullable=False),
    Column("lead_id", UUID(as_uuid=False), nullable=False),
    Column("destination", Text, nullable=False),
    Column("status", String(16), nullable=False, comment="pending | succeeded | failed | disabled"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("payload", JSONB, nullable=False),
    Column("qualified_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("retry_base", Integer, nullable=False, server_default="0",
           comment="Attempts made before the last replay: the retry schedule restarts after them."),
    Column("replays", Integer, nullable=False, server_default="0"),
    Column("last_replayed_at", DateTime(timezone=True)),
    Column("progress", JSONB, nullable=False, server_default=text("'{}'::jsonb"),
           comment="Steps a multi-call destination (CRM) finished, so a retry does not repeat them."),
    Column("traceparent", Text, comment="W3C trace context of the stage event; each attempt's span is its child."),
    Column("seq", BigInteger, Identity(), nullable=False,
           comment="Recording order: a lead's deliveries to one destination are sent in it; pages follow it."),
    UniqueConstraint("stage_event_id", "destination", name="uq_deliveries_event_destination"),
)
Index("ix_deliveries_due", deliveries.c.next_attempt_at, postgresql_where=deliveries.c.status == "pending")
Index("ix_deliveries_lead", deliveries.c.lead_id)
Index("ix_deliveries_destination_status", deliveries.c.destination, deliveries.c.status)
Index("ix_deliveries_seq", deliveries.c.seq, unique=True)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("delivery_id", String(64), ForeignKey(deliveries.c.id, ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_seconds", Float, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("response_excerpt", Text),
    Column("verdict", String(16), nullable=False),
)
Index("ix_delivery_attempts_delivery", delivery_attempts.c.delivery_id, delivery_attempts.c.attempt)

destinations = Table(
    "destinations",
    metadata,
    Column("name", Text, primary_key=True),
    Column("kind", String(16), nullable=False, comment="webhook | slack | hubspot | salesforce"),
    Column("config", JSONB, nullable=False, comment="The configuration without its secrets."),
    Column("secrets", JSONB, nullable=False, comment="Secret fields only; never returned by the API nor logged."),
    Column("fingerprint", String(64), nullable=False, comment="Hash of config and secrets: a change re-enables."),
    Column("source", String(8), nullable=False, comment="file | env | api"),
    Column("disabled_at", DateTime(timezone=True), comment="Set when a receiver answered 410 Gone."),
    Column("disabled_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("stage_event_id", Text, nullable=False, unique=True, comment="One assignment per stage event, however often consumed."),
    Column("lead_id", UUID(as_uuid=False), nullable=False),
    Column("team", Text, comment="None when no routing rule matched."),
    Column("member", Text, comment="None when nobody in the team was available."),
    Column("rule", Text),
    Column("reason", Text, nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
)
Index("ix_assignments_lead", assignments.c.lead_id, assignments.c.assigned_at)
Index("ix_assignments_team_member", assignments.c.team, assignments.c.member, assignments.c.assigned_at)

team_rotations = Table(
    "team_rotations",
    metadata,
    Column("team", Text, primary_key=True, comment="Locked FOR UPDATE while a lead of this team is assigned."),
    Column("credits", JSONB, nullable=False, server_default=text("'{}'::jsonb"), comment="Smooth weighted round-robin state."),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

handovers = Table(
    "handovers",
    metadata,
    Column("id", String(64), primary_key=True, comment="ho_ + hex; derived from the stage event, so a re-consumed event maps to it."),
    Column("stage_event_id", Text, nullable=False, unique=True, comment="The stage change that made the lead SQL."),
    Column("lead_id", UUID(as_uuid=False), nullable=False),
    Column("status", String(16), nullable=False, comment="pending | accepted | rejected | won | lost | cancelled"),
    Column("team", Text),
    Column("member", Text, comment="Who has the lead now (changes when an overdue lead is reassigned)."),
    Column("qualified_at", DateTime(timezone=True), nullable=False, comment="When the lead became SQL."),
    Column("handed_over_at", DateTime(timezone=True), nullable=False, comment="When the handover was recorded and assigned."),
    Column("sla_seconds", Float, comment="Time to accept that applied; None: no deadline."),
    Column("sla_deadline", DateTime(timezone=True), comment="The open acceptance deadline; None once decided or escalated for good."),
    Column("escalations", Integer, nullable=False, server_default="0"),
    Column("notification", JSONB, nullable=False, server_default=text("'{}'::jsonb"),
           comment="The leadflow.handover.v1 document as sent, for escalations and reassignments; wiped on erasure."),
    Column("accepted_at", DateTime(timezone=True)),
    Column("rejected_at", DateTime(timezone=True)),
    Column("rejection_reason", String(32)),
    Column("note", Text, comment="Sales' note with the acceptance or rejection."),
    Column("outcome_at", DateTime(timezone=True), comment="When won or lost was reported."),
    Column("outcome_reason", Text),
    Column("amount", Numeric(18, 2)),
    Column("currency", String(3)),
    Column("decided_by", Text, comment="Who answered: the member of a signed link, or what the API caller said."),
    Column("channel", String(8), comment="api | link: how the last feedback came."),
    Column("cancelled_reason", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_handovers_lead", handovers.c.lead_id, handovers.c.handed_over_at)
Index("ix_handovers_status", handovers.c.status, handovers.c.handed_over_at)
Index("ix_handovers_due", handovers.c.sla_deadline, postgresql_where=handovers.c.status == "pending")

handover_escalations = Table(
    "handover_escalations",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("handover_id", String(64), ForeignKey(handovers.c.id, ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False, comment="The deadline that passed."),
    Column("escalated_at", DateTime(timezone=True), nullable=False),
    Column("missed_by", Text, comment="The member who had the lead."),
    Column("escalated_to", Text, comment="Destination told about it, if any."),
    Column("reassigned_to", Text, comment="The member who got the lead next, if any."),
    Column("reason", Text, nullable=False),
    UniqueConstraint("handover_id", "number", name="uq_handover_escalations_number"),
)

consumer_offsets = consumer_offsets_table(metadata)
outbox = outbox_table(metadata)
