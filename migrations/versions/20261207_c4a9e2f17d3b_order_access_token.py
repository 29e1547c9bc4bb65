"""order access token

Revision ID: c4a9e2f17d3b
Revises: b7d41c9e2f63
Create Date: 2026-12-07 19:20:00.000000
"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = 'c4a9e2f17d3b'
down_revision = 'b7d41c9e2f63'
branch_labels = None
depends_on = None

order = sa.table('ticket_order', sa.column('id', sa.Integer), sa.column('code', sa.String),
                 sa.column('access_hash', sa.String))


def upgrade() -> None:
    # The booking's secret (in the email's links only, never on a ticket) is stored as its SHA-256. Orders
    # booked before this have sent links with their code, /orders/<code>: that code becomes their secret, so the
    # links organisers and attendees already hold keep working (a resend gives them a new one).
    with op.batch_alter_table('ticket_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_hash', sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(order.c.id, order.c.code)).all()
    for order_id, code in rows:
        connection.execute(order.update().where(order.c.id == order_id)
                           .values(access_hash=hashlib.sha256(code.encode()).hexdigest()))
    with op.batch_alter_table('ticket_order', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_order_access_hash', ['access_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('ticket_order', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_order_access_hash')
        batch_op.drop_column('access_hash')
