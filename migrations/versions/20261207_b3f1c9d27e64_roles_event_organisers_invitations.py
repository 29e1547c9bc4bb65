"""roles: event organisers, invitations; existing organisers become hub administrators

Revision ID: b3f1c9d27e64
Revises: c4a9e2f17d3b
Create Date: 2026-12-07 19:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

import kernel.db

revision = 'b3f1c9d27e64'
down_revision = 'c4a9e2f17d3b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_organiser',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_event_organiser_event_id_event'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_event_organiser_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'user_id', name=op.f('pk_event_organiser'))
    )
    with op.batch_alter_table('event_organiser', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_organiser_user_id'), ['user_id'], unique=False)

    op.create_table('account_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('next_path', sa.String(length=300), nullable=False),
    sa.Column('expires_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_account_invitation_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_invitation')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_invitation_token_hash'))
    )
    with op.batch_alter_table('account_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_invitation_user_id'), ['user_id'], unique=False)

    # Before roles, every organiser could do everything: they keep doing so as hub administrators. Event
    # organisers (the new, narrower "organiser") are made from the accounts page.
    op.execute("UPDATE user_account SET role = 'admin' WHERE role = 'organiser'")


def downgrade() -> None:
    # The old code knows one all-powerful organiser: administrators become it again; event organisers and
    # treasurers, who had less, are switched off rather than given everything.
    op.execute("UPDATE user_account SET is_active = false, role = 'door_staff' "
               "WHERE role IN ('organiser', 'treasurer')")
    op.execute("UPDATE user_account SET role = 'organiser' WHERE role = 'admin'")
    with op.batch_alter_table('account_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_invitation_user_id'))
    op.drop_table('account_invitation')
    with op.batch_alter_table('event_organiser', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_organiser_user_id'))
    op.drop_table('event_organiser')
