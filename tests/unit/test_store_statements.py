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
