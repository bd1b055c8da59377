"""The bulk statements of the scoring store against the tables they write (no database needed)."""

from __future__ import annotations

from leadflow_scoring.adapters import store
from leadflow_scoring.adapters.tables import leads, score_ledger, stage_history, touchpoints


def test_the_lead_upsert_writes_every_scoring_column_and_keeps_handovers_assignment():
    written = set(store.LEAD_UPSERT.columns)
    assert written == {c.name for c in leads.columns} - {"row_updated_at", "assigned_team", "assigned_member", "assigned_at"}
    assert "assigned_team" not in store.LEAD_UPSERT.sql and '"row_updated_at" = now()' in store.LEAD_UPSERT.sql
    for kept in ("lead_id", "lead_key", "created_at"):  # set on the first insert, never changed afterwards
        assert f'"{kept}" = EXCLUDED' not in store.LEAD_UPSERT.sql


def test_the_inserts_cover_every_column_without_a_default():
    for statement, table in ((store.TOUCHPOINT_INSERT, touchpoints), (store.LEDGER_INSERT, score_ledger),
                             (store.STAGE_HISTORY_INSERT, stage_history)):
        # every NOT NULL column the database does not fill itself (``id`` is a bigserial)
        required = {c.name for c in table.columns if not c.nullable and c.server_default is None and c.name != "id"}
        assert required <= set(statement.columns), (table.name, required - set(statement.columns))
        assert set(statement.columns) <= {c.name for c in table.columns}


def test_json_columns_travel_as_text_cast_to_jsonb():
    sql = store.LEAD_UPSERT.sql
    for column in ("profile", "groups", "rule_hits", "recent_hits", "rule_points", "fit_ledger"):
        assert f'u."{column}"::jsonb' in sql
    assert store.LEAD_UPSERT.json_columns == {"profile", "groups", "rule_hits", "recent_hits", "rule_points", "fit_ledger"}


def test_staged_statements_move_the_stage_into_the_table_with_the_same_conflict_clause():
    for statement in (store.LEAD_UPSERT, store.TOUCHPOINT_INSERT):
        tail = statement.sql.split(") AS u(", 1)[1].split(") ", 1)[1]  # the conflict clause and RETURNING
        assert statement.staged_sql.endswith(tail)
        assert statement.staged_sql.startswith(f'WITH staged AS (DELETE FROM "{statement.stage_table}" RETURNING ')
        assert statement.stage_table in statement.create_stage and "ON COMMIT DELETE ROWS" in statement.create_stage
    assert "RETURNING event_id" in store.TOUCHPOINT_INSERT.staged_sql


def test_records_follow_the_column_order_with_json_as_text():
    from datetime import UTC, datetime

    from leadflow_scoring.domain.leads import LedgerEntry

    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    (record,) = store.TOUCHPOINT_INSERT.records([{
        "event_id": "e-1", "lead_id": "l-1", "type": "page_viewed", "occurred_at": at, "received_at": at,
        "source_id": None, "profile": {"company": "Firm"}, "properties": {}, "kafka_partition": 2, "kafka_offset": 7,
    }])
    assert record == ("e-1", "l-1", "page_viewed", at, at, None, '{"company":"Firm"}', "{}", 2, 7)
    entry = LedgerEntry("webinar", "engagement", 25, "Attended a webinar", "tp-9", capped=False)
    line = dict(zip(store.LEDGER_INSERT.columns, store.ledger_record("l-1", entry, "h1", at)))
    assert line == {"lead_id": "l-1", "touchpoint_id": "tp-9", "rule_id": "webinar", "group_name": "engagement",
                    "points": 25, "reason": "Attended a webinar", "capped": False, "model_hash": "h1", "occurred_at": at}
