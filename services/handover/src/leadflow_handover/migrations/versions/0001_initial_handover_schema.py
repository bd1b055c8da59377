"""initial handover schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 03:04:46.038199
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
    schema='handover'
    )
    op.create_table('deliveries',
    sa.Column('id', sa.String(length=64), nullable=False, comment='Also the webhook-id: stable across retries.'),
    sa.Column('stage_event_id', sa.Text(), nullable=False),
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('destination', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False, comment='pending | succeeded | failed | disabled'),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('qualified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stage_event_id', 'destination', name='uq_deliveries_event_destination'),
    schema='handover'
    )
    op.create_index('ix_deliveries_due', 'deliveries', ['next_attempt_at'], unique=False, schema='handover', postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_deliveries_lead', 'deliveries', ['lead_id'], unique=False, schema='handover')
    op.create_table('delivery_attempts',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.String(length=64), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_seconds', sa.Float(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('response_excerpt', sa.Text(), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['handover.deliveries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    schema='handover'
    )
    op.create_index('ix_delivery_attempts_delivery', 'delivery_attempts', ['delivery_id', 'attempt'], unique=False, schema='handover')


def downgrade() -> None:
    op.drop_index('ix_delivery_attempts_delivery', table_name='delivery_attempts', schema='handover')
    op.drop_table('delivery_attempts', schema='handover')
    op.drop_index('ix_deliveries_lead', table_name='deliveries', schema='handover')
    op.drop_index('ix_deliveries_due', table_name='deliveries', schema='handover', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('deliveries', schema='handover')
    op.drop_table('consumer_offsets', schema='handover')
