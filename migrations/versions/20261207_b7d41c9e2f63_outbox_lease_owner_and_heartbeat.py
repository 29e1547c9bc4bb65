"""outbox lease owner and health heartbeat

Revision ID: b7d41c9e2f63
Revises: b8f4c2d9e631
Create Date: 2026-12-07 19:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

import kernel.db

revision = 'b7d41c9e2f63'
down_revision = 'b8f4c2d9e631'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Which sender holds an email's lease: a sender starting on the same host releases the leases of a
    # process that is gone at once (kernel.mail.sender), instead of leaving its email for the lease to run out.
    with op.batch_alter_table('outbox_message') as batch:
        batch.add_column(sa.Column('claimed_by', sa.String(length=120), nullable=True))
    # /healthz commits a write here (kernel.health): a read answered "ok" while the disk was full.
    op.create_table(
        'health_heartbeat',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('beat_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('beats', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_health_heartbeat')),
    )


def downgrade() -> None:
    op.drop_table('health_heartbeat')
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_column('claimed_by')
