"""model versions and rescoring jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 03:27:51.479702
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('models',
    sa.Column('hash', sa.Text(), nullable=False),
    sa.Column('model_id', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False, comment='The YAML model file as activated.'),
    sa.Column('active', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('hash'),
    schema='scoring'
    )
    op.create_index('uq_models_one_active', 'models', ['active'], unique=True, schema='scoring', postgresql_where='active')
    op.create_table('rescore_jobs',
    sa.Column('id', sa.UUID(as_uuid=False), nullable=False),
    sa.Column('model_hash', sa.Text(), nullable=False),
    sa.Column('previous_hash', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False, comment='running | done | failed | superseded'),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('changed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('cursor', sa.UUID(as_uuid=False), nullable=True, comment='Last lead id rescored; the job resumes after it.'),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    schema='scoring'
    )


def downgrade() -> None:
    op.drop_table('rescore_jobs', schema='scoring')
    op.drop_index('uq_models_one_active', table_name='models', schema='scoring', postgresql_where='active')
    op.drop_table('models', schema='scoring')
