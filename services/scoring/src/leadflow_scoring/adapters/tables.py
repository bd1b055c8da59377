"""The scoring service's tables (schema ``scoring``). Storage only: not the API, not the events."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, Numeric, String, Table, Text, func, text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from leadflow_runtime.db import consumer_offsets_table
from leadflow_runtime.outbox import outbox_table

SCHEMA = "scoring"
metadata = MetaData(schema=SCHEMA)

leads = Table(
    "leads",
    metadata,
    Column("lead_id", UUID(as_uuid=False), primary_key=True),
    Column("lead_key", Text, nullable=False, unique=True),
    Column("email", Text),
    Column("anonymous_id", Text),
    Column("stage", String(32), nullable=False),
    Column("score", Integer, nullable=False),
    Column("fit", Integer, nullable=False),
    Column("engagement", Integer, nullable=False),
    Column("profile", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("groups", JSONB, nullable=False, server_default=text("'{}'::jsonb"),
           comment="Engagement per group: [value, reference time]; decay is computed from it."),
    Column("rule_hits", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("recent_hits", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("rule_points", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("fit_ledger", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("touchpoint_count", Integer, nullable=False, server_default="0"),
    Column("grade", String(4), nullable=False, server_default="D3"),
    Column("disqualified_reason", Text),
    Column("review_at", DateTime(timezone=True), comment="When decay will next move this MQL."),
    Column("objected_at", DateTime(timezone=True), comment="GDPR Art. 21 objection: never scored or handed over again."),
    Column("requalify_at", Integer, comment="Sales sent the lead back: the score at which it qualifies again."),
    Column("assigned_team", Text, comment="The sales team handover assigned the lead to last (leadflow.handover.assigned.v1)."),
    Column("assigned_member", Text, comment="The team member who has the lead; None when nobody in the team was available."),
    Column("assigned_at", DateTime(timezone=True), comment="When that assignment was made; an older event never replaces it."),
    Column("model_id", Text, nullable=False),
    Column("model_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("stage_changed_at", DateTime(timezone=True), nullable=False),
    Column("row_updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_leads_stage_updated", leads.c.stage, leads.c.updated_at)
Index("ix_leads_email", leads.c.email)
Index("ix_leads_review", leads.c.review_at, postgresql_where=leads.c.review_at.is_not(None))

touchpoints = Table(
    "touchpoints",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("lead_id", UUID(as_uuid=False), nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source_id", Text),
    Column("profile", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("properties", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("kafka_partition", Integer, nullable=False),
    Column("kafka_offset", BigInteger, nullable=False),
)
Index("ix_touchpoints_lead_time", touchpoints.c.lead_id, touchpoints.c.occurred_at)

score_ledger = Table(
    "score_ledger",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("lead_id", UUID(as_uuid=False), nullable=False),
    Column("touchpoint_id", Text),
    Column("rule_id", Text, nullable=False),
    Column("group_name", Text, nullable=False, comment="`fit`, or the engagement group of the rule."),
    Column("points", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("capped", Boolean, nullable=False, server_default="false"),
    Column("model_hash", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)
Index("ix_score_ledger_lead", score_ledger.c.lead_id, score_ledger.c.id)

stage_history = Table(
    "stage_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Text, nullable=False, unique=True),
    Column("lead_id", UUID(as_uuid=False), nullable=False),
    Column("from_stage", String(32)),
    Column("to_stage", String(32), nullable=False),
    Column("cause", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("touchpoint_id", Text),
    Column("rule_id", Text),
    Column("score", Integer, nullable=False),
    Column("fit", Integer, nullable=False),
    Column("engagement", Integer, nullable=False),
    Column("model_hash", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("handover_id", Text, comment="Cause sales_feedback: the handover sales answered."),
    Column("rejection_reason", String(32), comment="A lead sales sent back: why (procedural, not_now, ...)."),
)
Index("ix_stage_history_lead", stage_history.c.lead_id, stage_history.c.id)
Index("ix_stage_history_to_time", stage_history.c.to_stage, stage_history.c.occurred_at)

outbox = outbox_table(metadata)
consumer_offsets = consumer_offsets_table(metadata)

handover_feedback = Table(
    "handover_feedback",
    metadata,
    Column("event_id", Text, primary_key=True, comment="CloudEvents id: a redelivered event is recorded once."),
    Column("lead_id", UUID(as_uuid=False), nullable=False),
    Column("handover_id", Text, nullable=False),
    Column("kind", String(16), nullable=False, comment="accepted | rejected | won | lost | sla_breached"),
    Column("reason", String(32), comment="Rejection reason."),
    Column("note", Text),
    Column("outcome_reason", Text),
    Column("amount", Numeric(18, 2)),
    Column("currency", String(3)),
    Column("team", Text),
    Column("member", Text),
    Column("qualified_at", DateTime(timezone=True), nullable=False, comment="When the lead became SQL."),
    Column("occurred_at", DateTime(timezone=True), nullable=False, comment="When sales decided, or the deadline was missed."),
    Column("sla_breached", Boolean, nullable=False, server_default="false", comment="A decision that came after a missed deadline."),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_handover_feedback_kind_time", handover_feedback.c.kind, handover_feedback.c.occurred_at)
Index("ix_handover_feedback_lead", handover_feedback.c.lead_id)

models = Table(
    "models",
    metadata,
    Column("hash", Text, primary_key=True),
    Column("model_id", Text, nullable=False),
    Column("source", Text, nullable=False, comment="The YAML model file as activated."),
    Column("active", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("activated_at", DateTime(timezone=True)),
)
Index("uq_models_one_active", models.c.active, unique=True, postgresql_where=models.c.active)

rescore_jobs = Table(
    "rescore_jobs",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("model_hash", Text, nullable=False),
    Column("previous_hash", Text),
    Column("status", String(16), nullable=False, comment="running | done | failed | superseded"),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("changed", Integer, nullable=False, server_default="0"),
    Column("cursor", UUID(as_uuid=False), comment="Last lead id rescored; the job resumes after it."),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("error", Text),
)

lead_aliases = Table(
    "lead_aliases",
    metadata,
    Column("alias_key", Text, primary_key=True, comment="An anonymous key (anon:<id>) that now means a known lead."),
    Column("lead_key", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

consents = Table(
    "consents",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("lead_id", UUID(as_uuid=False), nullable=False),
    Column("touchpoint_id", Text),
    Column("purpose", Text, nullable=False),
    Column("legal_basis", String(32), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("wording_version", Text),
    Column("source", Text),
    Column("given_at", DateTime(timezone=True), nullable=False),
    Column("double_opt_in_confirmed_at", DateTime(timezone=True)),
    Column("proof", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_consents_lead", consents.c.lead_id, consents.c.given_at)

erasures = Table(
    "erasures",
    metadata,
    Column("key_hash", Text, primary_key=True, comment="SHA-256 of the erased lead key: no personal data."),
    Column("reason", String(16), nullable=False, comment="request | retention"),
    Column("erased_at", DateTime(timezone=True), nullable=False),
)
