"""lead assignment: the sales team and member handover assigned each lead to

``leads.assigned_team``, ``assigned_member`` and ``assigned_at`` hold the latest
``leadflow.handover.assigned.v1`` of the lead (scoring's lead upsert never writes them). The
columns are nullable without a default, so adding them does not rewrite the table; leads assigned
before this migration get their assignment when handover next assigns them (handover's
``GET /v1/assignments`` has the history). The three indexes are partial - only assigned leads have
entries - and created ``IF NOT EXISTS``: on a large live database build them first with
``CREATE INDEX CONCURRENTLY`` (same names and definitions) and this migration skips them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 09:12:03.118204
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('leads', sa.Column('assigned_team', sa.Text(), nullable=True, comment='The sales team handover assigned the lead to last (leadflow.handover.assigned.v1).'), schema='scoring')
    op.add_column('leads', sa.Column('assigned_member', sa.Text(), nullable=True, comment='The team member who has the lead; None when nobody in the team was available.'), schema='scoring')
    op.add_column('leads', sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True, comment='When that assignment was made; an older event never replaces it.'), schema='scoring')
    op.create_index('ix_leads_team_updated_id', 'leads', ['assigned_team', 'updated_at', 'lead_id'], unique=False, schema='scoring', postgresql_where=sa.text('assigned_team IS NOT NULL'), if_not_exists=True)
    op.create_index('ix_leads_team_score_id', 'leads', ['assigned_team', 'score', 'lead_id'], unique=False, schema='scoring', postgresql_where=sa.text('assigned_team IS NOT NULL'), if_not_exists=True)
    op.create_index('ix_leads_member_updated_id', 'leads', ['assigned_member', 'updated_at', 'lead_id'], unique=False, schema='scoring', postgresql_where=sa.text('assigned_member IS NOT NULL'), if_not_exists=True)


def downgrade() -> None:
    op.drop_index('ix_leads_member_updated_id', table_name='leads', schema='scoring', postgresql_where=sa.text('assigned_member IS NOT NULL'))
    op.drop_index('ix_leads_team_score_id', table_name='leads', schema='scoring', postgresql_where=sa.text('assigned_team IS NOT NULL'))
    op.drop_index('ix_leads_team_updated_id', table_name='leads', schema='scoring', postgresql_where=sa.text('assigned_team IS NOT NULL'))
    op.drop_column('leads', 'assigned_at', schema='scoring')
    op.drop_column('leads', 'assigned_member', schema='scoring')
    op.drop_column('leads', 'assigned_team', schema='scoring')
