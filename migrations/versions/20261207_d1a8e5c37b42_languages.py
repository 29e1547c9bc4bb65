"""languages (issue 17): an account's chosen language; the language a booking and a waiting-list entry were made in

Revision ID: d1a8e5c37b42
Revises: d5e1a7c3b9f2
Create Date: 2026-12-07 20:30:00.000000

Nullable: an account that never chose follows its browser's Accept-Language; bookings made before this
revision get their emails in English.
"""
import sqlalchemy as sa
from alembic import op

revision = 'd1a8e5c37b42'
down_revision = 'd5e1a7c3b9f2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
    for table in ('ticket_order', 'waitlist_entry'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))


def downgrade() -> None:
    for table in ('waitlist_entry', 'ticket_order'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('language')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('language')
