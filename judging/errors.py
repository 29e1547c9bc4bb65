"""Domain errors for judging. Each carries the HTTP status a route should answer with and a message
written for the person who caused it; services never know about HTTP beyond this number."""

from __future__ import annotations


class JudgingError(Exception):
    status = 400
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        if field is not None:
            self.field = field


class NotFound(JudgingError):
    status = 404


class NotAJudge(JudgingError):
    status = 403


class InvalidInput(JudgingError):
    """A score outside the scale, a criterion of another competition, a missing reason..."""

    status = 422


class RubricLocked(JudgingError):
    status = 409


class SheetLocked(JudgingError):
    status = 409


class ScoringClosed(JudgingError):
    status = 409


class Conflicted(JudgingError):
    status = 409


class RoundRule(JudgingError):
    """A change heats and the final do not allow: moving a scored entrant to another round, advancing an
    entrant twice, a second final."""

    status = 409


class LinkGone(JudgingError):
    """A magic link that has expired or has already been used."""

    status = 410


class PitchNotStarted(JudgingError):
    """Judges score an entrant only once its pitch has started (or the organiser opened its scoring)."""

    status = 409


class NotEligible(JudgingError):
    """A ticket that may not vote: not checked in, cancelled, or for another event."""

    status = 403


class VotingClosed(JudgingError):
    status = 409


class AlreadyVoted(JudgingError):
    status = 409
