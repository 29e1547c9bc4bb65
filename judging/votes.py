"""The people's-choice vote: each checked-in ticket of the competition's event has exactly one vote.

A vote is cast from the ticket's own page (/tickets/{code}) or from the public vote page the big screen's
QR code leads to, where the voter types the code printed under their ticket's QR. One vote per ticket is
enforced by the database (a unique constraint on competition and ticket), not by a check-then-insert:
two phones racing with the same ticket, on one worker or several, cannot both record a vote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from judging.audit import audit
from judging.competitions import get_competition
from judging.entrants import entrants_for
from judging.errors import AlreadyVoted, InvalidInput, JudgingError, NotEligible, NotFound, VotingClosed
from judging.models import AudienceVote, Competition, Entrant, EntrantStatus
from kernel.db import utcnow
from kernel.web import london_time
from ticketing.models import Ticket

VIA_TICKET = "ticket"  # the ticket page
VIA_CODE = "code"  # the public vote page, ticket code typed in
CODE_RE = re.compile(r"[A-Za-z0-9_-]{6,64}")


# --- one enterprise, one line ----------------------------------------------------------------------
# An entrant advanced from a heat to the final is one enterprise with two entries (judging.rounds
# advance_entrants): the audience votes for the enterprise, so ballots and tallies show it once, as its latest
# entry, and a vote cast for either entry counts for both.

def _successors(entrants: list[Entrant]) -> dict[int, int]:
    return {e.advanced_from_id: e.id for e in entrants if e.advanced_from_id is not None}


def _latest_id(entrant_id: int, successors: dict[int, int]) -> int:
    seen = set()
    while entrant_id in successors and entrant_id not in seen:
        seen.add(entrant_id)
        entrant_id = successors[entrant_id]
    return entrant_id


def on_ballot(entrants: list[Entrant]) -> list[Entrant]:
    """Each enterprise once: entries that went on to the final are stood for by their finalist."""
    successors = _successors(entrants)
    return [e for e in entrants if e.id not in successors]


def fold(counts: dict[int, int], entrants: list[Entrant]) -> dict[int, int]:
    """Votes per entrant id (every entrant given, 0 included), an enterprise's entries sharing its votes."""
    successors = _successors(entrants)
    per_enterprise: dict[int, int] = {}
    for entrant_id, n in counts.items():
        latest = _latest_id(entrant_id, successors)
        per_enterprise[latest] = per_enterprise.get(latest, 0) + n
    return {e.id: per_enterprise.get(_latest_id(e.id, successors), 0) for e in entrants}


# --- opening and closing ---------------------------------------------------------------------------

async def open_voting(*, session: AsyncSession, competition: Competition, actor_id: int | None) -> None:
    """Open (or reopen) the vote. From now on the audience weight cannot change."""
    if competition.released:
        raise VotingClosed("The results have been released: the audience vote cannot open again.")
    if competition.voting_open:
        raise JudgingError("The audience vote is already open.")
    if not await entrants_for(session=session, competition_id=competition.id, accepted_only=True):
        raise InvalidInput("Accept at least one entrant before opening the vote.")
    reopened = competition.voting_opened_at is not None
    competition.voting_opened_at = utcnow()
    competition.voting_closed_at = None
    await audit(session=session, competition_id=competition.id, actor_id=actor_id,
                action="voting.reopen" if reopened else "voting.open", subject=competition.name)


async def close_voting(*, session: AsyncSession, competition: Competition, actor_id: int | None) -> None:
    if not competition.voting_open:
        raise VotingClosed("The audience vote is not open.")
    competition.voting_closed_at = utcnow()
    await audit(session=session, competition_id=competition.id, actor_id=actor_id, action="voting.close",
                subject=competition.name)


# --- voting ----------------------------------------------------------------------------------------

def clean_code(raw: str) -> str:
    """The ticket code from what a voter typed or pasted: the code itself, or the ticket page's address."""
    text = (raw or "").strip()
    if "/tickets/" in text:
        text = text.split("/tickets/", 1)[1].split("/", 1)[0].split("?", 1)[0]
    return text.strip()


async def find_ticket(*, session: AsyncSession, code: str) -> Ticket | None:
    code = clean_code(code)
    if not CODE_RE.fullmatch(code):
        return None
    return await session.scalar(select(Ticket).where(Ticket.code == code))


def check_ticket(competition: Competition, ticket: Ticket) -> None:
    """NotEligible, with the reason in the voter's words, for a ticket that may not vote here."""
    if ticket.event_id != competition.event_id:
        raise NotEligible("This ticket is for a different event, so it cannot vote in this competition.")
    if ticket.is_cancelled:
        raise NotEligible("This ticket has been cancelled, so it cannot vote.")
    if ticket.checked_in_at is None:
        raise NotEligible("Only tickets checked in at the door can vote. Show your ticket at the door first, "
                          "then vote.")


async def vote_of(*, session: AsyncSession, competition_id: int, ticket_id: int) -> AudienceVote | None:
    return await session.scalar(select(AudienceVote).where(AudienceVote.competition_id == competition_id,
                                                           AudienceVote.ticket_id == ticket_id))


async def _already_voted(session: AsyncSession, vote: AudienceVote) -> AlreadyVoted:
    entrant = await session.get(Entrant, vote.entrant_id)
    name = entrant.enterprise if entrant else "an entrant"
    return AlreadyVoted(f"This ticket has already voted (for {name}, at {london_time(vote.cast_at)}). Each "
                        "ticket has one vote.")


async def cast_vote(*, session: AsyncSession, competition_id: int, ticket_code: str, entrant_id: int | None,
                    via: str) -> AudienceVote:
    """Record the ticket's one vote for an entrant, or raise why not (nothing is recorded then)."""
    competition = await get_competition(session=session, competition_id=competition_id)
    if not competition.voting_open:
        raise VotingClosed("Voting is closed." if competition.voting_opened_at else
                           "Voting has not opened yet: the host will say when it does.")
    ticket = await find_ticket(session=session, code=ticket_code)
    if ticket is None:
        raise NotFound("We could not find a ticket with that code. It is printed under the QR code on your "
                       "ticket, for example “Ab3dE5fG7hJ9kL1m”.", field="ticket")
    check_ticket(competition, ticket)
    entrant = await session.get(Entrant, entrant_id) if entrant_id is not None else None
    if entrant is None or entrant.competition_id != competition.id or entrant.status != EntrantStatus.ACCEPTED:
        raise InvalidInput("Choose one of the entrants.", field="entrant")
    # A heat entry that went on to the final (a page opened before it did): the vote is the finalist's.
    for _ in range(10):
        finalist = await session.scalar(select(Entrant).where(Entrant.advanced_from_id == entrant.id,
                                                              Entrant.status == EntrantStatus.ACCEPTED.value))
        if finalist is None:
            break
        entrant = finalist
    vote = AudienceVote(competition_id=competition.id, entrant_id=entrant.id, ticket_id=ticket.id, via=via,
                        cast_at=utcnow())
    try:
        async with session.begin_nested():  # a savepoint: the transaction stays usable after a refusal
            session.add(vote)
            await session.flush()
    except IntegrityError:
        existing = await vote_of(session=session, competition_id=competition.id, ticket_id=ticket.id)
        if existing is None:
            raise
        raise await _already_voted(session, existing) from None
    return vote


async def tally(*, session: AsyncSession, competition_id: int) -> dict[int, int]:
    """Votes per entrant id (entrants without votes are absent)."""
    stmt = (select(AudienceVote.entrant_id, func.count(AudienceVote.id))
            .where(AudienceVote.competition_id == competition_id).group_by(AudienceVote.entrant_id))
    return {entrant_id: count for entrant_id, count in (await session.execute(stmt)).all()}


@dataclass
class Tally:
    """The count in running order, for the organiser's pages and the host screen."""

    rows: list[tuple[Entrant, int]]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.rows)

    @property
    def top(self) -> int:
        return max((n for _, n in self.rows), default=0)


async def tally_rows(*, session: AsyncSession, competition_id: int) -> Tally:
    entrants = await entrants_for(session=session, competition_id=competition_id, accepted_only=True)
    counts = fold(await tally(session=session, competition_id=competition_id), entrants)
    return Tally([(e, counts[e.id]) for e in on_ballot(entrants)])


# --- the ticket page -------------------------------------------------------------------------------

@dataclass
class Ballot:
    """One competition of the ticket's event, as the ticket page shows it."""

    competition: Competition
    entrants: list[Entrant]
    vote: AudienceVote | None
    voted_for: Entrant | None
    refusal: str  # why this ticket cannot vote ('' when it can)


async def ballots_for_ticket(*, session: AsyncSession, ticket: Ticket) -> list[Ballot]:
    """The competitions of the ticket's event whose vote is open, or that this ticket has voted in."""
    competitions = list(await session.scalars(
        select(Competition).where(Competition.event_id == ticket.event_id).order_by(Competition.id)))
    ballots = []
    for competition in competitions:
        vote = await vote_of(session=session, competition_id=competition.id, ticket_id=ticket.id)
        if not competition.voting_open and vote is None:
            continue
        refusal = ""
        try:
            check_ticket(competition, ticket)
        except NotEligible as exc:
            refusal = str(exc)
        entrants = await entrants_for(session=session, competition_id=competition.id, accepted_only=True)
        voted_id = _latest_id(vote.entrant_id, _successors(entrants)) if vote else None
        voted_for = next((e for e in entrants if e.id == voted_id), None)
        ballots.append(Ballot(competition, on_ballot(entrants), vote, voted_for, refusal))
    return ballots
