"""The ingest service's tables (schema ``ingest``). Storage only: not the API, not the events."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table, Text, func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "ingest"
metadata = MetaData(schema=SCHEMA)

sources = Table(
    "sources",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", Text, nullable=False),
    Column("signing_secret", Text, comment="The provider's webhook secret, as given: HMACs can only be checked with it."),
    Column("field_mapping", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("touchpoint_type", String(64), nullable=False),
    Column("allowed_origins", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("thank_you_url", Text),
    Column("rate_limit_per_minute", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source_id", Text, ForeignKey(f"{SCHEMA}.sources.id", ondelete="CASCADE"), nullable=False),
    Column("key_hash", LargeBinary, nullable=False, unique=True, comment="SHA-256 of the key (keys are 256-bit random)."),
    Column("prefix", Text, nullable=False, comment="The first characters of the key, to tell keys apart."),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)
Index("ix_api_keys_source", api_keys.c.source_id)

provider_events = Table(
    "provider_events",
    metadata,
    Column("source_id", Text, primary_key=True),
    Column("provider_event_id", Text, primary_key=True),
    Column("event_id", Text, nullable=False, comment="The touchpoint event id it was published as."),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_provider_events_received", provider_events.c.received_at)

imports = Table(
    "imports",
    metadata,
    Column("id", Text, primary_key=True),
    Column("import_key", Text, nullable=False, unique=True,
           comment="SHA-256 of source, event, file content and mapping: the same upload is the same import."),
    Column("source_id", Text, ForeignKey(f"{SCHEMA}.sources.id", ondelete="CASCADE"), nullable=False),
    Column("event_name", Text, nullable=False),
    Column("event_date", Date, nullable=False),
    Column("file_name", Text),
    Column("file_sha256", Text, nullable=False),
    Column("file_bytes", BigInteger, nullable=False),
    Column("encoding", String(32), nullable=False),
    Column("separator", String(8), nullable=False),
    Column("mapping", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("columns", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("consent_wording_version", Text),
    Column("status", String(16), nullable=False, comment="running, completed or failed."),
    Column("phase", String(16), nullable=False, comment="checking, publishing or finished."),
    Column("attempt", Integer, nullable=False, server_default=text("1"),
           comment="Raised by each resumption; a run whose attempt is no longer current stops writing."),
    Column("rows_total", Integer, nullable=False),
    Column("rows_checked", Integer, nullable=False, server_default=text("0")),
    Column("touchpoints_total", Integer),
    Column("touchpoints_published", Integer, nullable=False, server_default=text("0"),
           comment="Contacts acknowledged by Kafka, in file order: where a resumed import continues."),
    Column("counts", JSONB),
    Column("report", JSONB, nullable=False, server_default=text("'[]'::jsonb"),
           comment="Rejected, merged and warned rows: line, column and reason, never the values."),
    Column("report_truncated", Boolean, nullable=False, server_default=text("false")),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
)
Index("ix_imports_source_created", imports.c.source_id, imports.c.created_at)
