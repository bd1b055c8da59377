"""initial ingest schema: sources, their API keys, provider event ids seen

Revision ID: 0001
Revises:
Create Date: 2026-11-28 09:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sources',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('signing_secret', sa.Text(), nullable=True,
              comment="The provider's webhook secret, as given: HMACs can only be checked with it."),
    sa.Column('field_mapping', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('touchpoint_type', sa.String(length=64), nullable=False),
    sa.Column('allowed_origins', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('thank_you_url', sa.Text(), nullable=True),
    sa.Column('rate_limit_per_minute', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='ingest'
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('source_id', sa.Text(), nullable=False),
    sa.Column('key_hash', sa.LargeBinary(), nullable=False, comment='SHA-256 of the key (keys are 256-bit random).'),
    sa.Column('prefix', sa.Text(), nullable=False, comment='The first characters of the key, to tell keys apart.'),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['ingest.sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    schema='ingest'
    )
    op.create_index('ix_api_keys_source', 'api_keys', ['source_id'], unique=False, schema='ingest')
    op.create_table('provider_events',
    sa.Column('source_id', sa.Text(), nullable=False),
    sa.Column('provider_event_id', sa.Text(), nullable=False),
    sa.Column('event_id', sa.Text(), nullable=False, comment='The touchpoint event id it was published as.'),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('source_id', 'provider_event_id'),
    schema='ingest'
    )
    op.create_index('ix_provider_events_received', 'provider_events', ['received_at'], unique=False, schema='ingest')


def downgrade() -> None:
    op.drop_index('ix_provider_events_received', table_name='provider_events', schema='ingest')
    op.drop_table('provider_events', schema='ingest')
    op.drop_index('ix_api_keys_source', table_name='api_keys', schema='ingest')
    op.drop_table('api_keys', schema='ingest')
    op.drop_table('sources', schema='ingest')
