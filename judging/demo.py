"""The demo pitch night's competition: the default rubric, five early-stage Birmingham social enterprises in
running order, and three demo judges (called by denhub.demo.load).

The judge accounts have no usable password, as invited judges do: the organiser gives each a one-time
sign-in link from the competition's Judges page. So nothing secret is made or printed here.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.models import Category, Event
from judging.competitions import create_competition
from judging.entrants import EntrantInput, add_entrant
from judging.models import Competition, JudgeAssignment
from judging.rubric import slug_key
from kernel.accounts import Role, User, create_user

DEMO_EVENT_SLUG = "dragons-den-pitch-night"
COMPETITION_NAME = "Dragons’ Den: social entrepreneurs"

# (person pitching, enterprise, one-line pitch, social mission)
ENTRANTS = [
    ("Amina Begum", "Soho Road Community Pantry",
     "A pay-as-you-feel food pantry and cookery club for Handsworth families.",
     ("Surplus food from local shops and growers goes to families on low incomes, with no referral needed. "
      "Weekly cookery sessions turn the week's stock into cheap meals. We count visits and meals each week.")),
    ("Tomasz Nowak", "Lozells Bike Kitchen Co-op",
     "A member-run workshop refurbishing donated bikes and teaching repairs.",
     ("Young people in Lozells learn to fix bikes and earn one to keep; refurbished bikes are sold at low "
      "prices to people who need cheap transport to work. Members own and run the co-op.")),
    ("Rahima Khatun", "Bangla Tutors CIC",
     "Bengali-language tutoring so parents can help with homework in their first language.",
     ("Bilingual tutors coach children and, side by side, show their parents how to support learning at "
      "home. Schools in Handsworth and Aston refer families; fees are on a sliding scale.")),
    ("Delroy Campbell", "Aston Repair Café",
     "A monthly repair café where volunteers fix toasters, lamps, phones and clothes for free.",
     ("Keeps household goods out of landfill and passes on repair skills; older residents teach younger "
      "ones. Donations and a small trade in refurbished appliances pay for the hall and tools.")),
    ("Hawa Ahmed", "Stitch Together",
     "Refugee women sewing and selling bags, aprons and alterations made from reclaimed fabric.",
     ("Women new to Birmingham gain paid work, English practice and a UK work history in a safe space; "
      "sales to local businesses and an alterations service pay the wages.")),
]

# (email, name, chair)
JUDGES = [
    ("judge.nia@denhub.example", "Nia Campbell", True),
    ("judge.bilal@denhub.example", "Bilal Hussain", False),
    ("judge.grace@denhub.example", "Grace Okafor", False),
]


async def _judge(session: AsyncSession, email: str, name: str) -> User:
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        user = await create_user(session=session, email=email, name=name, role=Role.JUDGE,
                                 password=secrets.token_urlsafe(32))
        user.password_hash = "!" + user.password_hash  # no password can match: sign-in links only
    return user


async def load(*, session: AsyncSession) -> Competition | None:
    """The demo competition on the demo pitch night, once (None when that event is missing or already has one)."""
    event = await session.scalar(select(Event).where(Event.slug == DEMO_EVENT_SLUG,
                                                     Event.category == Category.PITCH_NIGHT.value))
    if event is None or await session.scalar(select(Competition.id).where(Competition.event_id == event.id)):
        return None
    competition = await create_competition(session=session, event_id=event.id, name=COMPETITION_NAME,
                                           actor_id=None, pitch_seconds=300)
    for name, enterprise, pitch, mission in ENTRANTS:
        slug = slug_key(enterprise).replace("_", ".")
        await add_entrant(session=session, competition=competition, actor_id=None,
                          data=EntrantInput(name=name, enterprise=enterprise, pitch=pitch, social_mission=mission,
                                            contact_email=f"{slug}@example.org"))
    competition.applications_open = False  # the running order is settled
    for email, name, chair in JUDGES:
        user = await _judge(session, email, name)
        session.add(JudgeAssignment(competition_id=competition.id, user_id=user.id, is_chair=chair))
    await session.flush()
    return competition
