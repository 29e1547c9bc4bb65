"""Pitch-night judging: competitions, entrants, the rubric, judges, conflicts, score sheets, the audit trail."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db import Base, UTCDateTime, utcnow


class CompetitionStatus(enum.StrEnum):
    SETUP = "setup"  # entrants apply, rubric and panel are edited
    SCORING = "scoring"  # the rubric is locked; judges score
    CLOSED = "closed"  # results released; nothing changes any more


class EntrantStatus(enum.StrEnum):
    APPLIED = "applied"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class SheetStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class RoundKind(enum.StrEnum):
    HEAT = "heat"  # entrants pitch here first; the best may advance to the final
    FINAL = "final"  # scored and ranked on its own; its entrants are new entrants advanced from heats


class ResultsVisibility(enum.StrEnum):
    PUBLIC = "public"
    JUDGES = "judges"


# key, name, description, weight: a social-enterprise pitch, every criterion scored 1..10.
DEFAULT_RUBRIC = [
    ("social_impact", "Social impact",
     "How much good it does, for whom, and how well the entrant knows and measures it.", 30),
    ("viability", "Viability", "Can it pay its way: customers, costs, income and a plan to reach them.", 25),
    ("innovation", "Innovation", "A fresh answer to the problem, or a known answer brought where it is missing.", 15),
    ("team", "Team", "The people, skills and local roots to deliver it.", 15),
    ("pitch", "Pitch", "Clear, within time, and convincing answers to the judges’ questions.", 15),
]
DEFAULT_SCALE = (1, 10)
DEFAULT_TIE_BREAK = ["criterion:social_impact", "spread", "chair"]


class Competition(Base):
    __tablename__ = "judging_competition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    pitch_seconds: Mapped[int] = mapped_column(Integer, default=300)
    status: Mapped[str] = mapped_column(String(20), default=CompetitionStatus.SETUP.value)
    # Set when scoring starts (the organiser starts it, or the first score is saved): rubric, tie-break
    # chain and audience weight cannot change after this.
    rubric_locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    results_released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    results_visibility: Mapped[str] = mapped_column(String(10), default=ResultsVisibility.PUBLIC.value)
    # Rules applied in order to entrants tied on their score (judging.scoring describes each).
    tie_break: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_TIE_BREAK))
    # The chair's casting decision: entrant ids best first, given by the organiser when a tie needs it.
    chair_order: Mapped[list[int]] = mapped_column(JSON, default=list)
    audience_weight_percent: Mapped[int] = mapped_column(Integer, default=0)
    applications_open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The entrant on the host screen. Not a foreign key: judging_entrant already points here, and a cycle
    # between the two tables would need ALTER-time constraints; judging.night checks it belongs here.
    current_entrant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The people's-choice vote: open between these (opened and not closed); opening it fixes the weights.
    voting_opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    voting_closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def rubric_locked(self) -> bool:
        return self.rubric_locked_at is not None

    @property
    def voting_open(self) -> bool:
        return self.voting_opened_at is not None and self.voting_closed_at is None and not self.released

    @property
    def weights_fixed(self) -> bool:
        """The tie-break chain and the audience weight are fixed once scoring starts or voting opens."""
        return self.rubric_locked or self.voting_opened_at is not None

    @property
    def released(self) -> bool:
        return self.results_released_at is not None

    @property
    def is_closed(self) -> bool:
        return self.status == CompetitionStatus.CLOSED


class Round(Base):
    """An optional heat or final; entrants without a round are ranked together.

    Advancing a heat's entrant to the final adds a new entrant in the final (judging.rounds.advance_entrants)
    pointing back at the heat's one, so each keeps its own score sheets and each round is ranked on its own."""

    __tablename__ = "judging_round"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("judging_competition.id", ondelete="CASCADE"),
                                                index=True)
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(10), default=RoundKind.HEAT.value, server_default=RoundKind.HEAT.value)

    @property
    def is_final(self) -> bool:
        return self.kind == RoundKind.FINAL


class Entrant(Base):
    __tablename__ = "judging_entrant"
    __table_args__ = (Index("ix_judging_entrant_competition_status", "competition_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("judging_competition.id", ondelete="CASCADE"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("judging_round.id", ondelete="SET NULL"),
                                                 nullable=True)
    name: Mapped[str] = mapped_column(String(120))  # the person pitching
    enterprise: Mapped[str] = mapped_column(String(160))
    pitch: Mapped[str] = mapped_column(String(200), default="")  # one line
    social_mission: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20), default=EntrantStatus.APPLIED.value)
    running_order: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by "start pitch" on the host screen: the countdown runs from here.
    pitch_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Judges may score this entrant from here on: set when the pitch starts, or by the organiser's override.
    scoring_opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A finalist: the heat entrant it was advanced from (unique: a heat entrant advances once).
    advanced_from_id: Mapped[int | None] = mapped_column(ForeignKey("judging_entrant.id", ondelete="SET NULL"),
                                                         nullable=True, unique=True)

    @property
    def label(self) -> str:
        return f"{self.enterprise} ({self.name})"

    @property
    def scoring_open(self) -> bool:
        return self.scoring_opened_at is not None

    def pitch_ends_at(self, pitch_seconds: int) -> dt.datetime | None:
        return self.pitch_started_at + dt.timedelta(seconds=pitch_seconds) if self.pitch_started_at else None


class Criterion(Base):
    __tablename__ = "judging_criterion"
    __table_args__ = (UniqueConstraint("competition_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("judging_competition.id", ondelete="CASCADE"),
                                                index=True)
    key: Mapped[str] = mapped_column(String(40))  # named by the tie-break chain: criterion:<key>
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(300), default="")
    scale_min: Mapped[int] = mapped_column(Integer, default=1)
    scale_max: Mapped[int] = mapped_column(Integer, default=10)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def scale(self) -> range:
        return range(self.scale_min, self.scale_max + 1)


class JudgeAssignment(Base):
    __tablename__ = "judging_judge"
    __table_args__ = (UniqueConstraint("competition_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("judging_competition.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    is_chair: Mapped[bool] = mapped_column(Boolean, default=False)
    invited_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MagicLink(Base):
    """A one-time judge sign-in link. Only the token's SHA-256 is stored: a database leak signs nobody in."""

    __tablename__ = "judging_magic_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("judging_competition.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Conflict(Base):
    """A judge's declared conflict of interest: they do not score that entrant (a recusal)."""

    __tablename__ = "judging_conflict"
    __table_args__ = (UniqueConstraint("judge_id", "entrant_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("judging_competition.id", ondelete="CASCADE"),
                                                index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    entrant_id: Mapped[int] = mapped_column(ForeignKey("judging_entrant.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500))
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScoreSheet(Base):
    """One judge's scores, feedback and private note for one entrant; submitted sheets are locked until unlocked.

    Two texts, as awards software keeps them: `feedback` is for the entrant (printed, unsigned, in the
    feedback pack); `private_note` is for the organisers only and is never printed for the entrant."""

    __tablename__ = "judging_score_sheet"
    __table_args__ = (UniqueConstraint("judge_id", "entrant_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("judging_competition.id", ondelete="CASCADE"),
                                                index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    entrant_id: Mapped[int] = mapped_column(ForeignKey("judging_entrant.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default=SheetStatus.DRAFT.value)
    feedback: Mapped[str] = mapped_column(Text, default="")
    private_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unlocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unlock_reason: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_submitted(self) -> bool:
        return self.status == SheetStatus.SUBMITTED


class Score(Base):
    __tablename__ = "judging_score"
    __table_args__ = (UniqueConstraint("sheet_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sheet_id: Mapped[int] = mapped_column(ForeignKey("judging_score_sheet.id", ondelete="CASCADE"))
    criterion_id: Mapped[int] = mapped_column(ForeignKey("judging_criterion.id", ondelete="CASCADE"),
                                              index=True)
    value: Mapped[int] = mapped_column(Integer)


class AudienceVote(Base):
    """One checked-in ticket's people's-choice vote. The unique constraint is what makes it one vote per
    ticket: two phones (or two workers) racing to vote with the same ticket cannot both insert."""

    __tablename__ = "judging_audience_vote"
    __table_args__ = (UniqueConstraint("competition_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("judging_competition.id", ondelete="CASCADE"))
    entrant_id: Mapped[int] = mapped_column(ForeignKey("judging_entrant.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    via: Mapped[str] = mapped_column(String(20))  # "ticket" (the ticket page) or "code" (the public vote page)
    cast_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Who changed what, when, from what to what: every score change, unlock, rubric edit and release."""

    __tablename__ = "judging_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("judging_competition.id", ondelete="CASCADE"),
                                                index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                 nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(40))  # e.g. score.set, sheet.submit, sheet.unlock
    subject: Mapped[str] = mapped_column(String(200), default="")  # what it was about, in words
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)
