"""initial scoring schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 03:04:43.883621
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consumer_offsets',
    sa.Column('group_id', sa.String(), nullable=False),
    sa.Column('topic', sa.String(), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('next_offset', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('group_id', 'topic', 'partition'),
    schema='scoring'
    )
    op.create_table('leads',
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('lead_key', sa.Text(), nullable=False),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('anonymous_id', sa.Text(), nullable=True),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('fit', sa.Integer(), nullable=False),
    sa.Column('engagement', sa.Integer(), nullable=False),
    sa.Column('profile', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('rule_hits', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('rule_points', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('fit_ledger', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('touchpoint_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('model_id', sa.Text(), nullable=False),
    sa.Column('model_hash', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stage_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('row_updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('lead_id'),
    sa.UniqueConstraint('lead_key'),
    schema='scoring'
    )
    op.create_index('ix_leads_email', 'leads', ['email'], unique=False, schema='scoring')
    op.create_index('ix_leads_stage_updated', 'leads', ['stage', 'updated_at'], unique=False, schema='scoring')
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('shard', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(), nullable=False),
    sa.Column('key', sa.LargeBinary(), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    schema='scoring'
    )
    op.create_index('ix_outbox_pending', 'outbox', ['shard', 'id'], unique=False, schema='scoring', postgresql_where=sa.text('published_at IS NULL'))
    op.create_table('score_ledger',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('touchpoint_id', sa.Text(), nullable=True),
    sa.Column('rule_id', sa.Text(), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('capped', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('model_hash', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='scoring'
    )
    op.create_index('ix_score_ledger_lead', 'score_ledger', ['lead_id', 'id'], unique=False, schema='scoring')
    op.create_table('stage_history',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.Text(), nullable=False),
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('from_stage', sa.String(length=32), nullable=True),
    sa.Column('to_stage', sa.String(length=32), nullable=False),
    sa.Column('cause', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('touchpoint_id', sa.Text(), nullable=True),
    sa.Column('rule_id', sa.Text(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('fit', sa.Integer(), nullable=False),
    sa.Column('engagement', sa.Integer(), nullable=False),
    sa.Column('model_hash', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id'),
    schema='scoring'
    )
    op.create_index('ix_stage_history_lead', 'stage_history', ['lead_id', 'id'], unique=False, schema='scoring')
    op.create_index('ix_stage_history_to_time', 'stage_history', ['to_stage', 'occurred_at'], unique=False, schema='scoring')
    op.create_table('touchpoints',
    sa.Column('event_id', sa.Text(), nullable=False),
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source_id', sa.Text(), nullable=True),
    sa.Column('profile', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('kafka_partition', sa.Integer(), nullable=False),
    sa.Column('kafka_offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('event_id'),
    schema='scoring'
    )
    op.create_index('ix_touchpoints_lead_time', 'touchpoints', ['lead_id', 'occurred_at'], unique=False, schema='scoring')


def downgrade() -> None:
    op.drop_index('ix_touchpoints_lead_time', table_name='touchpoints', schema='scoring')
    op.drop_table('touchpoints', schema='scoring')
    op.drop_index('ix_stage_history_to_time', table_name='stage_history', schema='scoring')
    op.drop_index('ix_stage_history_lead', table_name='stage_history', schema='scoring')
    op.drop_table('stage_history', schema='scoring')
    op.drop_index('ix_score_ledger_lead', table_name='score_ledger', schema='scoring')
    op.drop_table('score_ledger', schema='scoring')
    op.drop_index('ix_outbox_pending', table_name='outbox', schema='scoring', postgresql_where=sa.text('published_at IS NULL'))
    op.drop_table('outbox', schema='scoring')
    op.drop_index('ix_leads_stage_updated', table_name='leads', schema='scoring')
    op.drop_index('ix_leads_email', table_name='leads', schema='scoring')
    op.drop_table('leads', schema='scoring')
    op.drop_table('consumer_offsets', schema='scoring')
