"""judging: a sheet's comment is the entrant's feedback; a private note for the organisers beside it

Revision ID: b3f1c2d4e5a6
Revises: b3f1c9d27e64
Create Date: 2026-12-07 19:05:00.000000

The score page labelled the one comment box "only the organisers see it", but the feedback pack printed it
for the entrant (judging/documents.py): what judges wrote there reached the entrants. So the existing
column is what it really was, entrant feedback, and is renamed `feedback` with every comment kept as it is.
`private_note` is new and empty: text for the organisers that is never printed for the entrant.
"""
import sqlalchemy as sa
from alembic import op

revision = 'b3f1c2d4e5a6'
down_revision = 'b3f1c9d27e64'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('judging_score_sheet', schema=None) as batch_op:
        batch_op.alter_column('comment', new_column_name='feedback', existing_type=sa.Text(),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('private_note', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    # The private notes go: the old schema had nowhere for them (and must not print them for the entrant).
    with op.batch_alter_table('judging_score_sheet', schema=None) as batch_op:
        batch_op.drop_column('private_note')
        batch_op.alter_column('feedback', new_column_name='comment', existing_type=sa.Text(),
                              existing_nullable=False)
