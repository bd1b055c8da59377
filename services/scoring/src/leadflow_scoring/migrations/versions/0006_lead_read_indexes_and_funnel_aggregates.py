"""lead read indexes and funnel aggregates

Indexes for ``GET /v1/leads`` (one keyset index per sort, stage and grade with score, touchpoint
source); ``lead_search``, the lower-case name / e-mail / company of each lead with a trigram index,
kept by triggers on ``leads`` when the e-mail or the profile changes; and three daily aggregate
tables that a statement-level trigger on ``stage_history`` keeps current. Both are backfilled.

The indexes on existing tables are created ``IF NOT EXISTS``: on a large live database build them
first with ``CREATE INDEX CONCURRENTLY`` (same names and definitions) and this migration skips them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 03:49:47.583431
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SEARCH_TEXT = (
    "lower(coalesce({row}email, '') || ' ' || coalesce({row}profile ->> 'first_name', '') || ' ' || "
    "coalesce({row}profile ->> 'last_name', '') || ' ' || coalesce({row}profile ->> 'company', ''))"
)
# Score updates (every touchpoint) leave lead_search alone: its trigram index changes only with the text.
SEARCH_FUNCTION = f"""
CREATE OR REPLACE FUNCTION scoring.keep_lead_search() RETURNS trigger LANGUAGE plpgsql AS $keep$
BEGIN
    INSERT INTO scoring.lead_search (lead_id, search_text) VALUES (NEW.lead_id, {SEARCH_TEXT.format(row="NEW.")})
    ON CONFLICT (lead_id) DO UPDATE SET search_text = EXCLUDED.search_text;
    RETURN NULL;
END
$keep$
"""
SEARCH_TRIGGERS = [
    "CREATE TRIGGER leads_search_insert AFTER INSERT ON scoring.leads FOR EACH ROW EXECUTE FUNCTION scoring.keep_lead_search()",
    "CREATE TRIGGER leads_search_update AFTER UPDATE OF email, profile ON scoring.leads FOR EACH ROW "
    "WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.profile IS DISTINCT FROM NEW.profile) "
    "EXECUTE FUNCTION scoring.keep_lead_search()",
]

# Folds stage changes into the aggregates. {source} is the trigger's transition table, or the whole
# history for the backfill; {firsts} gives, per lead and stage, the lowest id of the lead's rows with
# that stage - a change is the lead's *first* entry into the stage when it has that id (the new rows
# are in the history already, so several firsts in one statement are told apart too). In the trigger
# the history and the leads are looked up per lead (LATERAL): an index probe each, whatever the
# planner's statistics say. Rows are upserted in key order, so two writers that share a shard lock
# them in the same order. Bucket b: 1.1^b <= 1 + seconds since creation < 1.1^(b+1).
FOLD = """
WITH firsts AS MATERIALIZED (
    {firsts}
), changes AS MATERIALIZED (
    SELECT coalesce(n.from_stage, '') AS from_stage, n.to_stage, n.occurred_at,
           (n.occurred_at AT TIME ZONE 'UTC')::date AS day, l.created_at, {shard} AS shard, n.id = f.first_id AS first
    FROM {source} n
    JOIN firsts f ON f.lead_id = n.lead_id AND f.to_stage = n.to_stage
    LEFT JOIN LATERAL (SELECT created_at FROM scoring.leads WHERE lead_id = n.lead_id) l ON true
), daily AS (
    INSERT INTO scoring.stage_daily_counts AS d (day, from_stage, to_stage, shard, entered, first_entered)
    SELECT day, from_stage, to_stage, shard, count(*), count(*) FILTER (WHERE first)
    FROM changes GROUP BY day, from_stage, to_stage, shard ORDER BY day, from_stage, to_stage
    ON CONFLICT (day, from_stage, to_stage, shard) DO UPDATE
        SET entered = d.entered + EXCLUDED.entered, first_entered = d.first_entered + EXCLUDED.first_entered
), cohorts AS (
    INSERT INTO scoring.stage_cohort_counts AS c (cohort_day, stage, shard, reached)
    SELECT (created_at AT TIME ZONE 'UTC')::date, to_stage, shard, count(*)
    FROM changes WHERE first AND created_at IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2
    ON CONFLICT (cohort_day, stage, shard) DO UPDATE SET reached = c.reached + EXCLUDED.reached
)
INSERT INTO scoring.stage_time_buckets AS t (day, stage, bucket, shard, leads)
SELECT day, to_stage,
       floor(ln(1.0 + greatest(extract(epoch FROM occurred_at - created_at)::float8, 0.0)) / ln(1.1))::smallint,
       shard, count(*)
FROM changes WHERE first AND created_at IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3
ON CONFLICT (day, stage, bucket, shard) DO UPDATE SET leads = t.leads + EXCLUDED.leads
"""

TRIGGER_FIRSTS = """SELECT n.lead_id, f.to_stage, f.first_id
    FROM (SELECT DISTINCT lead_id FROM new_changes) n
    CROSS JOIN LATERAL (SELECT h.to_stage, min(h.id) AS first_id FROM scoring.stage_history h
                        WHERE h.lead_id = n.lead_id GROUP BY h.to_stage) f"""
BACKFILL_FIRSTS = "SELECT lead_id, to_stage, min(id) AS first_id FROM scoring.stage_history GROUP BY lead_id, to_stage"

# EXECUTE plans the fold afresh for each statement, for the size of its transition table (a plan the
# session cached for a handful of rows would not fit a bulk insert, nor the other way round);
# enable_seqscan = off keeps the history read by lead id even when its statistics are stale (a history
# bulk-loaded since the last ANALYZE looks empty to the planner). That setting inflates plan costs past
# jit_above_cost, and compiling this small query would take longer than running it: jit = off.
TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION scoring.fold_stage_changes() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $fold$
BEGIN
    EXECUTE $sql${FOLD.format(source="new_changes", shard="(pg_backend_pid() % 8)::smallint", firsts=TRIGGER_FIRSTS)}$sql$;
    RETURN NULL;
END
$fold$
"""


def upgrade() -> None:
    op.create_table('stage_cohort_counts',
    sa.Column('cohort_day', sa.Date(), nullable=False, comment='UTC day the leads were created.'),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('shard', sa.SmallInteger(), nullable=False),
    sa.Column('reached', sa.BigInteger(), nullable=False, comment='Leads of the cohort that have reached the stage.'),
    sa.PrimaryKeyConstraint('cohort_day', 'stage', 'shard'),
    schema='scoring'
    )
    op.create_table('stage_daily_counts',
    sa.Column('day', sa.Date(), nullable=False, comment='UTC day the stage changes happened.'),
    sa.Column('from_stage', sa.String(length=32), nullable=False, comment="'' for a new lead."),
    sa.Column('to_stage', sa.String(length=32), nullable=False),
    sa.Column('shard', sa.SmallInteger(), nullable=False, comment='Spreads concurrent writers over rows.'),
    sa.Column('entered', sa.BigInteger(), nullable=False),
    sa.Column('first_entered', sa.BigInteger(), nullable=False, comment='Changes that took the lead into to_stage for the first time.'),
    sa.PrimaryKeyConstraint('day', 'from_stage', 'to_stage', 'shard'),
    schema='scoring'
    )
    op.create_table('stage_time_buckets',
    sa.Column('day', sa.Date(), nullable=False, comment='UTC day of the first entry into the stage.'),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('bucket', sa.SmallInteger(), nullable=False, comment='floor(ln(1 + seconds since creation) / ln(1.1)).'),
    sa.Column('shard', sa.SmallInteger(), nullable=False),
    sa.Column('leads', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'stage', 'bucket', 'shard'),
    schema='scoring'
    )
    op.create_index('ix_leads_created_id', 'leads', ['created_at', 'lead_id'], unique=False, schema='scoring', if_not_exists=True)
    op.create_index('ix_leads_grade_score_id', 'leads', ['grade', 'score', 'lead_id'], unique=False, schema='scoring', if_not_exists=True)
    op.create_index('ix_leads_score_id', 'leads', ['score', 'lead_id'], unique=False, schema='scoring', if_not_exists=True)
    op.create_index('ix_leads_stage_score_id', 'leads', ['stage', 'score', 'lead_id'], unique=False, schema='scoring', if_not_exists=True)
    op.create_index('ix_leads_updated_id', 'leads', ['updated_at', 'lead_id'], unique=False, schema='scoring', if_not_exists=True)
    op.create_index('ix_touchpoints_source_lead', 'touchpoints', ['source_id', 'lead_id'], unique=False, schema='scoring', if_not_exists=True)

    op.create_table('lead_search',
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False, comment='lower(e-mail first_name last_name company); kept by triggers on leads, deleted with the lead.'),
    sa.ForeignKeyConstraint(['lead_id'], ['scoring.leads.lead_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('lead_id'),
    schema='scoring'
    )
    op.execute(SEARCH_FUNCTION)
    for statement in SEARCH_TRIGGERS:
        op.execute(statement)
    op.execute("LOCK TABLE scoring.leads IN SHARE MODE")  # nothing changes between backfill and triggers
    op.execute(f"INSERT INTO scoring.lead_search (lead_id, search_text) SELECT lead_id, {SEARCH_TEXT.format(row='')} FROM scoring.leads")
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index('ix_lead_search_trgm', 'lead_search', ['search_text'], unique=False, schema='scoring', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})

    op.execute(TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER stage_history_fold AFTER INSERT ON scoring.stage_history "
        "REFERENCING NEW TABLE AS new_changes FOR EACH STATEMENT EXECUTE FUNCTION scoring.fold_stage_changes()"
    )
    # The history written so far; the trigger takes over from here (same transaction, so nothing falls between).
    op.execute("LOCK TABLE scoring.stage_history IN SHARE MODE")
    op.execute(FOLD.format(source="scoring.stage_history", shard="0::smallint", firsts=BACKFILL_FIRSTS))


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS stage_history_fold ON scoring.stage_history")
    op.execute("DROP FUNCTION IF EXISTS scoring.fold_stage_changes()")
    op.execute("DROP TRIGGER IF EXISTS leads_search_update ON scoring.leads")
    op.execute("DROP TRIGGER IF EXISTS leads_search_insert ON scoring.leads")
    op.execute("DROP FUNCTION IF EXISTS scoring.keep_lead_search()")
    op.drop_index('ix_lead_search_trgm', table_name='lead_search', schema='scoring', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_table('lead_search', schema='scoring')
    op.drop_index('ix_touchpoints_source_lead', table_name='touchpoints', schema='scoring')
    op.drop_index('ix_leads_updated_id', table_name='leads', schema='scoring')
    op.drop_index('ix_leads_stage_score_id', table_name='leads', schema='scoring')
    op.drop_index('ix_leads_score_id', table_name='leads', schema='scoring')
    op.drop_index('ix_leads_grade_score_id', table_name='leads', schema='scoring')
    op.drop_index('ix_leads_created_id', table_name='leads', schema='scoring')
    op.drop_table('stage_time_buckets', schema='scoring')
    op.drop_table('stage_daily_counts', schema='scoring')
    op.drop_table('stage_cohort_counts', schema='scoring')
