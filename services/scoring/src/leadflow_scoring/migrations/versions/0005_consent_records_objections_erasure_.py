"""consent records, objections, erasure tombstones

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:44:23.057639
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consents',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('lead_id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('touchpoint_id', sa.Text(), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.String(length=32), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('wording_version', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('double_opt_in_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('proof', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='scoring'
    )
    op.create_index('ix_consents_lead', 'consents', ['lead_id', 'given_at'], unique=False, schema='scoring')
    op.create_table('erasures',
    sa.Column('key_hash', sa.Text(), nullable=False, comment='SHA-256 of the erased lead key: no personal data.'),
    sa.Column('reason', sa.String(length=16), nullable=False, comment='request | retention'),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_hash'),
    schema='scoring'
    )
    op.add_column('leads', sa.Column('objected_at', sa.DateTime(timezone=True), nullable=True, comment='GDPR Art. 21 objection: never scored or handed over again.'), schema='scoring')


def downgrade() -> None:
    op.drop_column('leads', 'objected_at', schema='scoring')
    op.drop_table('erasures', schema='scoring')
    op.drop_index('ix_consents_lead', table_name='consents', schema='scoring')
    op.drop_table('consents', schema='scoring')
