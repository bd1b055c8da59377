"""The handover service's tables (schema ``handover``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, UniqueConstraint, func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from leadflow_runtime.db import consumer_offsets_table

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
    UniqueConstraint("stage_event_id", "destination", name="uq_deliveries_event_destination"),
)
Index("ix_deliveries_due", deliveries.c.next_attempt_at, postgresql_where=deliveries.c.status == "pending")
Index("ix_deliveries_lead", deliveries.c.lead_id)

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

consumer_offsets = consumer_offsets_table(metadata)
