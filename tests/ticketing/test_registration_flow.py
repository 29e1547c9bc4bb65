import re

from sqlalchemy import func, select

from kernel.mail import OutboxMessage
from tests.conftest import csrf_from
from tests.factories import make_event
from tests.ticketing.factories import booking_form, make_ticket_type
from ticketing.models import Order, Ticket


async def test_book_free_and_community_tickets(client, db):
    async with db.write() as session:
        event = await make_event(session, title="Bangla Month", capacity=100)
        free = await make_ticket_type(session, event, name="Free entry")
        community = await make_ticket_type(session, event, name="Community supper", tier="community", price_pence=300)
    page = await client.get(f"/events/{event.slug}")
    assert page.status_code == 200
    assert "Community supper" in page.text and f'name="qty_{free.id}"' in page.text

    step2 = await client.get(f"/events/{event.slug}/register", params={f"qty_{free.id}": "1", f"qty_{community.id}": "1"})
    assert step2.status_code == 200, step2.text
    token = re.search(r'name="form_token" value="([^"]+)"', step2.text).group(1)
    form = booking_form(csrf_from(step2.text), token, [(free.id, "Amina Khatun"), (community.id, "রহিম উদ্দিন")],
                        community_declaration="resident", access_needs="Wheelchair space")
    response = await client.post(f"/events/{event.slug}/register", data=form)
    assert response.status_code == 303, response.text
    order_url = response.headers["location"]
    again = await client.post(f"/events/{event.slug}/register", data=form)
    assert again.headers["location"] == f"/orders/{await _order_code(db)}/booked"  # same form token: same order

    order_page = await client.get(order_url)
    assert "Amina Khatun" in order_page.text and "রহিম উদ্দিন" in order_page.text
    async with db.read() as session:
        assert await session.scalar(select(func.count(Order.id))) == 1
        assert await session.scalar(select(func.count(Ticket.id))) == 2
        order = await session.scalar(select(Order))
        assert order.status == "awaiting_payment" and order.total_pence == 300
        assert order.community_declaration == "resident"
        assert await session.scalar(select(func.count(OutboxMessage.id))) == 1
        ticket = await session.scalar(select(Ticket).where(Ticket.attendee_name == "Amina Khatun"))
        paid = await session.scalar(select(Ticket).where(Ticket.attendee_name != "Amina Khatun"))
    ticket_page = await client.get(f"{order_url}/tickets/{ticket.code}")
    assert ticket_page.status_code == 200 and "<svg" in ticket_page.text
    # the free ticket of a booking that has something to pay: nothing to pay for this one, said once
    assert "to pay at the door" not in ticket_page.text and "Free · Free" not in ticket_page.text
    assert "Free" in ticket_page.text
    paid_page = await client.get(f"{order_url}/tickets/{paid.code}")
    assert "to pay at the door" in paid_page.text and "Community rate · £3.00" in paid_page.text
    pdf = await client.get(f"/documents/ticket/{order_url.rsplit('/', 1)[1]}.{ticket.code}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


async def _order_code(db) -> str:
    async with db.read() as session:
        return await session.scalar(select(Order.code))
