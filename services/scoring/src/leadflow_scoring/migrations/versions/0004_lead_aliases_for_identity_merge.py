"""lead aliases for identity merge

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:39:22.689007
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lead_aliases',
    sa.Column('alias_key', sa.Text(), nullable=False, comment='An anonymous key (anon:<id>) that now means a known lead.'),
    sa.Column('lead_key', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('alias_key'),
    schema='scoring'
    )


def downgrade() -> None:
    op.drop_table('lead_aliases', schema='scoring')
