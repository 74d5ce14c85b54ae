"""Outcome: a desired customer outcome, how it is measured, and the teams aligned to it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.common import MAX_REASON, MAX_TEXT, check_optional_text, check_text, check_when
from domain.errors import InvalidTransition, NotFound

ACTIVE = "active"
RETIRED = "retired"


class OutcomeNotFound(NotFound):
    """Raised when no outcome has the given id."""


class Outcome(Aggregate):
    """E.g. "customers resolve billing questions without calling us", measured by calls/week.

    Command methods check their input, `@event` bodies hold only the state rules.
    """

    @classmethod
    def define(
        cls, *, statement: str, measure: str, target: str | None, defined_at: datetime
    ) -> Outcome:
        """A newly defined outcome, its input checked."""
        cls.check_definition(statement, measure, target)
        check_when("defined_at", defined_at)
        return cls(statement=statement, measure=measure, target=target, defined_at=defined_at)

    @event("Defined")
    def __init__(
        self, statement: str, measure: str, target: str | None, defined_at: datetime
    ) -> None:
        self.statement = statement
        self.measure = measure
        self.target = target
        self.defined_at = defined_at
        self.status = ACTIVE
        self.team_ids: tuple[UUID, ...] = ()
        self.retired_reason: str | None = None

    @staticmethod
    def check_definition(statement: str, measure: str, target: str | None) -> None:
        """Raise `ValidationError` unless statement, measure and target are sensible texts."""
        check_text("statement", statement, max_length=MAX_REASON)
        check_text("measure", measure, max_length=MAX_REASON)
        check_optional_text("target", target, max_length=MAX_REASON)

    def check_active(self, action: str) -> None:
        """Raise `InvalidTransition` when the outcome is retired."""
        if self.status != ACTIVE:
            raise InvalidTransition("outcome", self.status, action)

    def revise(
        self, statement: str, measure: str, target: str | None, revised_at: datetime
    ) -> None:
        self.check_definition(statement, measure, target)
        check_when("revised_at", revised_at)
        self._revise(statement=statement, measure=measure, target=target, revised_at=revised_at)

    @event("Revised")
    def _revise(
        self, statement: str, measure: str, target: str | None, revised_at: datetime
    ) -> None:
        self.check_active("revise")
        self.statement = statement
        self.measure = measure
        self.target = target

    def align_team(self, team_id: UUID, aligned_at: datetime) -> None:
        check_when("aligned_at", aligned_at)
        self._align_team(team_id=team_id, aligned_at=aligned_at)

    @event("TeamAligned")
    def _align_team(self, team_id: UUID, aligned_at: datetime) -> None:
        self.check_active("align a team with")
        if team_id not in self.team_ids:
            self.team_ids = (*self.team_ids, team_id)

    def unalign_team(self, team_id: UUID, unaligned_at: datetime) -> None:
        check_when("unaligned_at", unaligned_at)
        self._unalign_team(team_id=team_id, unaligned_at=unaligned_at)

    @event("TeamUnaligned")
    def _unalign_team(self, team_id: UUID, unaligned_at: datetime) -> None:
        self.team_ids = tuple(t for t in self.team_ids if t != team_id)

    def retire(self, reason: str | None, retired_at: datetime) -> None:
        check_optional_text("reason", reason, max_length=MAX_TEXT)
        check_when("retired_at", retired_at)
        self._retire(reason=reason, retired_at=retired_at)

    @event("Retired")
    def _retire(self, reason: str | None, retired_at: datetime) -> None:
        self.check_active("retire")
        self.status = RETIRED
        self.retired_reason = reason
