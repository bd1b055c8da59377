"""handovers, their escalations, and the outbox of sales feedback

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 07:46:53.873283
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handovers',
    sa.Column('id', sa.String(length=64), nullable=False, comment='ho_ + hex; derived from the stage event, so a re-consumed event maps to it.'),
    sa.Column('stage_event_id', sa.Text(), nullable=False, comment='The stage change that made the lead SQL.'),
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False, comment='pending | accepted | rejected | won | lost | cancelled'),
    sa.Column('team', sa.Text(), nullable=True),
    sa.Column('member', sa.Text(), nullable=True, comment='Who has the lead now (changes when an overdue lead is reassigned).'),
    sa.Column('qualified_at', sa.DateTime(timezone=True), nullable=False, comment='When the lead became SQL.'),
    sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=False, comment='When the handover was recorded and assigned.'),
    sa.Column('sla_seconds', sa.Float(), nullable=True, comment='Time to accept that applied; None: no deadline.'),
    sa.Column('sla_deadline', sa.DateTime(timezone=True), nullable=True, comment='The open acceptance deadline; None once decided or escalated for good.'),
    sa.Column('escalations', sa.Integer(), server_default='0', nullable=False),
    sa.Column('notification', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False, comment='The leadflow.handover.v1 document as sent, for escalations and reassignments; wiped on erasure.'),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rejection_reason', sa.String(length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=True, comment="Sales' note with the acceptance or rejection."),
    sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True, comment='When won or lost was reported.'),
    sa.Column('outcome_reason', sa.Text(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('decided_by', sa.Text(), nullable=True, comment='Who answered: the member of a signed link, or what the API caller said.'),
    sa.Column('channel', sa.String(length=8), nullable=True, comment='api | link: how the last feedback came.'),
    sa.Column('cancelled_reason', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stage_event_id'),
    schema='handover'
    )
    op.create_index('ix_handovers_due', 'handovers', ['sla_deadline'], unique=False, schema='handover', postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_handovers_lead', 'handovers', ['lead_id', 'handed_over_at'], unique=False, schema='handover')
    op.create_index('ix_handovers_status', 'handovers', ['status', 'handed_over_at'], unique=False, schema='handover')
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
    schema='handover'
    )
    op.create_index('ix_outbox_pending', 'outbox', ['shard', 'id'], unique=False, schema='handover', postgresql_where=sa.text('published_at IS NULL'))
    op.create_table('handover_escalations',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('handover_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False, comment='The deadline that passed.'),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('missed_by', sa.Text(), nullable=True, comment='The member who had the lead.'),
    sa.Column('escalated_to', sa.Text(), nullable=True, comment='Destination told about it, if any.'),
    sa.Column('reassigned_to', sa.Text(), nullable=True, comment='The member who got the lead next, if any.'),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['handover_id'], ['handover.handovers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('handover_id', 'number', name='uq_handover_escalations_number'),
    schema='handover'
    )


def downgrade() -> None:
    op.drop_table('handover_escalations', schema='handover')
    op.drop_index('ix_outbox_pending', table_name='outbox', schema='handover', postgresql_where=sa.text('published_at IS NULL'))
    op.drop_table('outbox', schema='handover')
    op.drop_index('ix_handovers_status', table_name='handovers', schema='handover')
    op.drop_index('ix_handovers_lead', table_name='handovers', schema='handover')
    op.drop_index('ix_handovers_due', table_name='handovers', schema='handover', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('handovers', schema='handover')
