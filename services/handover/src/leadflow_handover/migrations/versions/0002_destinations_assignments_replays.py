"""destinations, assignments and round-robin state; replays, CRM progress, trace context and order of deliveries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:01:04.201498
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assignments',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('stage_event_id', sa.Text(), nullable=False, comment='One assignment per stage event, however often consumed.'),
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('team', sa.Text(), nullable=True, comment='None when no routing rule matched.'),
    sa.Column('member', sa.Text(), nullable=True, comment='None when nobody in the team was available.'),
    sa.Column('rule', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stage_event_id'),
    schema='handover'
    )
    op.create_index('ix_assignments_lead', 'assignments', ['lead_id', 'assigned_at'], unique=False, schema='handover')
    op.create_index('ix_assignments_team_member', 'assignments', ['team', 'member', 'assigned_at'], unique=False, schema='handover')
    op.create_table('destinations',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False, comment='webhook | slack | hubspot | salesforce'),
    sa.Column('config', postgresql.JSONB(astext_type=sa.Text()), nullable=False, comment='The configuration without its secrets.'),
    sa.Column('secrets', postgresql.JSONB(astext_type=sa.Text()), nullable=False, comment='Secret fields only; never returned by the API nor logged.'),
    sa.Column('fingerprint', sa.String(length=64), nullable=False, comment='Hash of config and secrets: a change re-enables.'),
    sa.Column('source', sa.String(length=8), nullable=False, comment='file | env | api'),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True, comment='Set when a receiver answered 410 Gone.'),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('name'),
    schema='handover'
    )
    op.create_table('team_rotations',
    sa.Column('team', sa.Text(), nullable=False, comment='Locked FOR UPDATE while a lead of this team is assigned.'),
    sa.Column('credits', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False, comment='Smooth weighted round-robin state.'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('team'),
    schema='handover'
    )
    op.add_column('deliveries', sa.Column('retry_base', sa.Integer(), server_default='0', nullable=False, comment='Attempts made before the last replay: the retry schedule restarts after them.'), schema='handover')
    op.add_column('deliveries', sa.Column('replays', sa.Integer(), server_default='0', nullable=False), schema='handover')
    op.add_column('deliveries', sa.Column('last_replayed_at', sa.DateTime(timezone=True), nullable=True), schema='handover')
    op.add_column('deliveries', sa.Column('progress', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False, comment='Steps a multi-call destination (CRM) finished, so a retry does not repeat them.'), schema='handover')
    op.add_column('deliveries', sa.Column('traceparent', sa.Text(), nullable=True, comment="W3C trace context of the stage event; each attempt's span is its child."), schema='handover')
    op.add_column('deliveries', sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment="Recording order: a lead's deliveries to one destination are sent in it; pages follow it."), schema='handover')
    op.create_index('ix_deliveries_destination_status', 'deliveries', ['destination', 'status'], unique=False, schema='handover')
    op.create_index('ix_deliveries_seq', 'deliveries', ['seq'], unique=True, schema='handover')


def downgrade() -> None:
    op.drop_index('ix_deliveries_seq', table_name='deliveries', schema='handover')
    op.drop_index('ix_deliveries_destination_status', table_name='deliveries', schema='handover')
    op.drop_column('deliveries', 'seq', schema='handover')
    op.drop_column('deliveries', 'traceparent', schema='handover')
    op.drop_column('deliveries', 'progress', schema='handover')
    op.drop_column('deliveries', 'last_replayed_at', schema='handover')
    op.drop_column('deliveries', 'replays', schema='handover')
    op.drop_column('deliveries', 'retry_base', schema='handover')
    op.drop_table('team_rotations', schema='handover')
    op.drop_table('destinations', schema='handover')
    op.drop_index('ix_assignments_team_member', table_name='assignments', schema='handover')
    op.drop_index('ix_assignments_lead', table_name='assignments', schema='handover')
    op.drop_table('assignments', schema='handover')
