"""sales feedback: handover_feedback, stage history cause details, requalification score

``handover_feedback`` keeps every sales decision and missed acceptance deadline consumed from
``leadflow.handover-feedback`` (the funnel reads acceptance times, rejection reasons and SLA
breaches from it). The new columns of ``leads`` and ``stage_history`` are nullable without a
default, so adding them does not rewrite the tables. The funnel trigger of 0006 counts the new
stages (SAL, customer, lost) like any other and needs no change.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 07:52:40.533999
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handover_feedback',
    sa.Column('event_id', sa.Text(), nullable=False, comment='CloudEvents id: a redelivered event is recorded once.'),
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('handover_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False, comment='accepted | rejected | won | lost | sla_breached'),
    sa.Column('reason', sa.String(length=32), nullable=True, comment='Rejection reason.'),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('outcome_reason', sa.Text(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('team', sa.Text(), nullable=True),
    sa.Column('member', sa.Text(), nullable=True),
    sa.Column('qualified_at', sa.DateTime(timezone=True), nullable=False, comment='When the lead became SQL.'),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False, comment='When sales decided, or the deadline was missed.'),
    sa.Column('sla_breached', sa.Boolean(), server_default='false', nullable=False, comment='A decision that came after a missed deadline.'),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('event_id'),
    schema='scoring'
    )
    op.create_index('ix_handover_feedback_kind_time', 'handover_feedback', ['kind', 'occurred_at'], unique=False, schema='scoring')
    op.create_index('ix_handover_feedback_lead', 'handover_feedback', ['lead_id'], unique=False, schema='scoring')
    op.add_column('leads', sa.Column('requalify_at', sa.Integer(), nullable=True, comment='Sales sent the lead back: the score at which it qualifies again.'), schema='scoring')
    op.add_column('stage_history', sa.Column('handover_id', sa.Text(), nullable=True, comment='Cause sales_feedback: the handover sales answered.'), schema='scoring')
    op.add_column('stage_history', sa.Column('rejection_reason', sa.String(length=32), nullable=True, comment='A lead sales sent back: why (procedural, not_now, ...).'), schema='scoring')


def downgrade() -> None:
    op.drop_column('stage_history', 'rejection_reason', schema='scoring')
    op.drop_column('stage_history', 'handover_id', schema='scoring')
    op.drop_column('leads', 'requalify_at', schema='scoring')
    op.drop_index('ix_handover_feedback_lead', table_name='handover_feedback', schema='scoring')
    op.drop_index('ix_handover_feedback_kind_time', table_name='handover_feedback', schema='scoring')
    op.drop_table('handover_feedback', schema='scoring')
