"""decay groups, grades, review times

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:20:58.286712
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('leads', sa.Column('groups', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False, comment='Engagement per group: [value, reference time]; decay is computed from it.'), schema='scoring')
    op.add_column('leads', sa.Column('recent_hits', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False), schema='scoring')
    op.add_column('leads', sa.Column('grade', sa.String(length=4), server_default='D3', nullable=False), schema='scoring')
    op.add_column('leads', sa.Column('disqualified_reason', sa.Text(), nullable=True), schema='scoring')
    op.add_column('leads', sa.Column('review_at', sa.DateTime(timezone=True), nullable=True, comment='When decay will next move this MQL.'), schema='scoring')
    op.create_index('ix_leads_review', 'leads', ['review_at'], unique=False, schema='scoring', postgresql_where=sa.text('review_at IS NOT NULL'))
    op.alter_column('score_ledger', 'dimension', new_column_name='group_name', type_=sa.Text(),
                    comment='`fit`, or the engagement group of the rule.', schema='scoring')


def downgrade() -> None:
    op.alter_column('score_ledger', 'group_name', new_column_name='dimension', type_=sa.String(16), schema='scoring')
    op.drop_index('ix_leads_review', table_name='leads', schema='scoring', postgresql_where=sa.text('review_at IS NOT NULL'))
    op.drop_column('leads', 'review_at', schema='scoring')
    op.drop_column('leads', 'disqualified_reason', schema='scoring')
    op.drop_column('leads', 'grade', schema='scoring')
    op.drop_column('leads', 'recent_hits', schema='scoring')
    op.drop_column('leads', 'groups', schema='scoring')
