"""The organisers' view of the outbox: email that could not be sent, given up on or still being retried.

An email given up on (dead: its order's tickets were all cancelled before it went, the mail server refused
the address for good, or it failed MailSender.max_attempts times) is never sent; this page says which and
why, so an organiser can contact the person another way.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kernel.auth import ORGANISERS, guard
from kernel.mail.outbox import DEAD, PENDING, OutboxMessage
from kernel.web import render

PAGE_SIZE = 200


@guard(ORGANISERS)
async def outbox_problems(request: Request) -> Response:
    """/organiser/mail: the emails given up on, then those failing and retried, newest first."""
    troubled = or_(OutboxMessage.status == DEAD,
                   (OutboxMessage.status == PENDING) & (OutboxMessage.attempts > 0))
    async with request.app.state.db.read() as session:
        rows = (await session.execute(
            select(OutboxMessage.id, OutboxMessage.to_addr, OutboxMessage.subject, OutboxMessage.status,
                   OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.next_attempt_at,
                   OutboxMessage.created_at)
            .where(troubled).order_by(OutboxMessage.status, OutboxMessage.id.desc()).limit(PAGE_SIZE)
        )).all()
        waiting = await session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == PENDING))
    given_up = [r for r in rows if r.status == DEAD]
    retrying = [r for r in rows if r.status == PENDING]
    return render(request, "mail/outbox.html", {"given_up": given_up, "retrying": retrying, "waiting": waiting})


routes = [Route("/organiser/mail", outbox_problems, methods=["GET"], name="outbox_problems")]
