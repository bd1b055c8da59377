"""imports of contact lists: status, progress, counts and per-row report

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('imports',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('import_key', sa.Text(), nullable=False,
              comment='SHA-256 of source, event, file content and mapping: the same upload is the same import.'),
    sa.Column('source_id', sa.Text(), nullable=False),
    sa.Column('event_name', sa.Text(), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('file_sha256', sa.Text(), nullable=False),
    sa.Column('file_bytes', sa.BigInteger(), nullable=False),
    sa.Column('encoding', sa.String(length=32), nullable=False),
    sa.Column('separator', sa.String(length=8), nullable=False),
    sa.Column('mapping', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('consent_wording_version', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False, comment='running, completed or failed.'),
    sa.Column('phase', sa.String(length=16), nullable=False, comment='checking, publishing or finished.'),
    sa.Column('attempt', sa.Integer(), server_default=sa.text('1'), nullable=False,
              comment='Raised by each resumption; a run whose attempt is no longer current stops writing.'),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_checked', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('touchpoints_total', sa.Integer(), nullable=True),
    sa.Column('touchpoints_published', sa.Integer(), server_default=sa.text('0'), nullable=False,
              comment='Contacts acknowledged by Kafka, in file order: where a resumed import continues.'),
    sa.Column('counts', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False,
              comment='Rejected, merged and warned rows: line, column and reason, never the values.'),
    sa.Column('report_truncated', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['ingest.sources.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('import_key'),
    schema='ingest'
    )
    op.create_index('ix_imports_source_created', 'imports', ['source_id', 'created_at'], unique=False, schema='ingest')


def downgrade() -> None:
    op.drop_index('ix_imports_source_created', table_name='imports', schema='ingest')
    op.drop_table('imports', schema='ingest')
