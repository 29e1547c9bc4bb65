"""door link sessions kept on the server

Revision ID: d5e1a7c3b9f2
Revises: b3f1c2d4e5a6
Create Date: 2026-12-07 20:20:00.000000
"""
import sqlalchemy as sa
from alembic import op

import kernel.db

revision = 'd5e1a7c3b9f2'
down_revision = 'b3f1c2d4e5a6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Door-link sessions signed before this revision name no record: those phones enter the PIN again.
    op.create_table('door_link_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('created_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['link_id'], ['door_link.id'], name=op.f('fk_door_link_session_link_id_door_link'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_door_link_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_door_link_session_token_hash'))
    )
    with op.batch_alter_table('door_link_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_door_link_session_link_id'), ['link_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('door_link_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_door_link_session_link_id'))
    op.drop_table('door_link_session')
