"""accounts: the language a signed-in person chose with the switch (issue 17)

Revision ID: d1a8e5c37b42
Revises: b3f1c2d4e5a6
Create Date: 2026-12-07 20:30:00.000000

Nullable: an account that never chose follows its browser's Accept-Language.
"""
import sqlalchemy as sa
from alembic import op

revision = 'd1a8e5c37b42'
down_revision = 'b3f1c2d4e5a6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('language')
