"""outbox body provider

Revision ID: a7c3e91d5b20
Revises: 2573b74fbcaa
Create Date: 2026-11-25 01:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = 'a7c3e91d5b20'
down_revision = '2573b74fbcaa'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Emails whose bodies are made when sent (kernel.mail.providers, from the mail_bodies of kernel.hooks); NULL for the others.
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('body')
