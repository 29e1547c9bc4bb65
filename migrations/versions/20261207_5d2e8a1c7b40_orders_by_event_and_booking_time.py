"""orders by event and booking time

Revision ID: 5d2e8a1c7b40
Revises: a7c3e91d5b20
Create Date: 2026-12-07 16:10:00.000000
"""
from alembic import op

revision = '5d2e8a1c7b40'
down_revision = 'a7c3e91d5b20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The attendee list and its CSV export read an event's tickets in pages, in the order they were booked
    # (ticketing/attendees.py): this index gives that order, and serves every lookup by event_id that the
    # index it replaces served, so a booking still writes one index for it.
    op.create_index('ix_ticket_order_event_created', 'ticket_order', ['event_id', 'created_at'], unique=False)
    op.drop_index('ix_ticket_order_event_id', table_name='ticket_order')


def downgrade() -> None:
    op.create_index('ix_ticket_order_event_id', 'ticket_order', ['event_id'], unique=False)
    op.drop_index('ix_ticket_order_event_created', table_name='ticket_order')
