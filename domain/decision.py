"""Decision: a product decision record, from proposal to shipped (or declined, superseded)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.common import (
    MAX_NAME,
    MAX_REASON,
    MAX_TEXT,
    MAX_TITLE,
    check_optional_text,
    check_text,
    check_when,
)
from domain.errors import InvalidTransition, NotFound, ValidationError
from domain.vocabulary import IN_BACKLOG, OPEN_DECISIONS, DecisionStatus, statuses_after


class DecisionNotFound(NotFound):
    """Raised when no decision has the given id or key."""


def check_options(options: tuple[str, ...]) -> None:
    """Raise `ValidationError` unless `options` is a tuple of at most 20 short texts."""
    if not isinstance(options, tuple) or len(options) > 20:
        raise ValidationError("options", "must be a tuple of at most 20 options")
    for option in options:
        check_text("options", option, max_length=MAX_REASON)


class Decision(Aggregate):
    """What a team decided to do (or not), why, and which feedback it answers.

    As with `Feedback`, command methods check input and `@event` bodies hold only state
    rules; the status each event leads to is `STATUS_AFTER`.
    """

    status: DecisionStatus

    class Event(Aggregate.Event):
        def apply(self, aggregate: Any) -> None:
            # Runs after the event's own body: the status comes from the one map.
            status = STATUS_AFTER.get(type(self))
            if status is not None:
                aggregate.status = status

    @classmethod
    def propose(
        cls,
        *,
        key: str,
        team_id: UUID,
        title: str,
        rationale: str,
        options: tuple[str, ...],
        outcome_id: UUID | None,
        feedback_ids: tuple[UUID, ...],
        proposed_by: str | None,
        proposed_at: datetime,
    ) -> Decision:
        """A newly proposed decision, its input checked."""
        check_text("title", title, max_length=MAX_TITLE)
        check_text("rationale", rationale, max_length=MAX_TEXT)
        check_options(options)
        check_optional_text("proposed_by", proposed_by, max_length=MAX_NAME)
        check_when("proposed_at", proposed_at)
        if len(set(feedback_ids)) != len(feedback_ids):
            raise ValidationError("feedback_ids", "must not repeat an item")
        return cls(
            key=key,
            team_id=team_id,
            title=title,
            rationale=rationale,
            options=options,
            outcome_id=outcome_id,
            feedback_ids=feedback_ids,
            proposed_by=proposed_by,
            proposed_at=proposed_at,
        )

    @event("Proposed")
    def __init__(
        self,
        key: str,
        team_id: UUID,
        title: str,
        rationale: str,
        options: tuple[str, ...],
        outcome_id: UUID | None,
        feedback_ids: tuple[UUID, ...],
        proposed_by: str | None,
        proposed_at: datetime,
    ) -> None:
        self.key = key
        self.team_id = team_id
        self.title = title
        self.rationale = rationale
        self.options = options
        self.outcome_id = outcome_id
        self.feedback_ids = feedback_ids
        self.proposed_by = proposed_by
        self.proposed_at = proposed_at
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.rank: int | None = None
        self.superseded_by: UUID | None = None
        self.shipped_by: tuple[UUID, ...] = ()
        self.shipped_at: datetime | None = None

    def check_status(self, action: str, *allowed: DecisionStatus) -> None:
        """Raise `InvalidTransition` unless the decision is in one of the `allowed` statuses."""
        if self.status not in allowed:
            raise InvalidTransition(f"decision {self.key}", self.status, action)

    def accept(self, decided_by: str | None, decided_at: datetime) -> None:
        check_optional_text("decided_by", decided_by, max_length=MAX_NAME)
        check_when("decided_at", decided_at)
        self._accept(decided_by=decided_by, decided_at=decided_at)

    @event("Accepted")
    def _accept(self, decided_by: str | None, decided_at: datetime) -> None:
        self.check_status("accept", DecisionStatus.PROPOSED)
        self.decided_by = decided_by
        self.decided_at = decided_at

    def decline(self, rationale: str, decided_by: str | None, decided_at: datetime) -> None:
        check_text("rationale", rationale, max_length=MAX_TEXT)
        check_optional_text("decided_by", decided_by, max_length=MAX_NAME)
        check_when("decided_at", decided_at)
        self._decline(rationale=rationale, decided_by=decided_by, decided_at=decided_at)

    @event("Declined")
    def _decline(self, rationale: str, decided_by: str | None, decided_at: datetime) -> None:
        self.check_status("decline", *OPEN_DECISIONS)
        self.rationale = rationale
        self.decided_by = decided_by
        self.decided_at = decided_at
        self.rank = None

    def supersede(self, by_decision_id: UUID, superseded_at: datetime) -> None:
        if by_decision_id == self.id:
            raise ValidationError("by_decision_id", "a decision cannot supersede itself")
        check_when("superseded_at", superseded_at)
        self._supersede(by_decision_id=by_decision_id, superseded_at=superseded_at)

    @event("Superseded")
    def _supersede(self, by_decision_id: UUID, superseded_at: datetime) -> None:
        self.check_status("supersede", *OPEN_DECISIONS)
        self.superseded_by = by_decision_id
        self.rank = None

    def start(self, started_at: datetime) -> None:
        check_when("started_at", started_at)
        self._start(started_at=started_at)

    @event("Started")
    def _start(self, started_at: datetime) -> None:
        self.check_status("start", DecisionStatus.ACCEPTED)

    def mark_shipped(self, increment_id: UUID, shipped_at: datetime) -> None:
        check_when("shipped_at", shipped_at)
        self._mark_shipped(increment_id=increment_id, shipped_at=shipped_at)

    @event("MarkedShipped")
    def _mark_shipped(self, increment_id: UUID, shipped_at: datetime) -> None:
        self.check_status("mark shipped", *IN_BACKLOG)
        self.shipped_by = (*self.shipped_by, increment_id)
        self.shipped_at = shipped_at
        self.rank = None

    def rank_in_backlog(self, rank: int, ranked_at: datetime) -> None:
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValidationError("rank", "must be a positive integer")
        check_when("ranked_at", ranked_at)
        self._rank_in_backlog(rank=rank, ranked_at=ranked_at)

    @event("Ranked")
    def _rank_in_backlog(self, rank: int, ranked_at: datetime) -> None:
        self.check_status("rank", *IN_BACKLOG)
        self.rank = rank

    def link_feedback(self, feedback_ids: tuple[UUID, ...], linked_at: datetime) -> None:
        check_when("linked_at", linked_at)
        self._link_feedback(feedback_ids=feedback_ids, linked_at=linked_at)

    @event("FeedbackLinked")
    def _link_feedback(self, feedback_ids: tuple[UUID, ...], linked_at: datetime) -> None:
        self.check_status("link feedback to", *OPEN_DECISIONS)
        new = tuple(f for f in dict.fromkeys(feedback_ids) if f not in self.feedback_ids)
        self.feedback_ids = (*self.feedback_ids, *new)

    def unlink_feedback(self, feedback_ids: tuple[UUID, ...], unlinked_at: datetime) -> None:
        check_when("unlinked_at", unlinked_at)
        self._unlink_feedback(feedback_ids=feedback_ids, unlinked_at=unlinked_at)

    @event("FeedbackUnlinked")
    def _unlink_feedback(self, feedback_ids: tuple[UUID, ...], unlinked_at: datetime) -> None:
        self.check_status("unlink feedback from", *OPEN_DECISIONS)
        self.feedback_ids = tuple(f for f in self.feedback_ids if f not in feedback_ids)


#: The status each decision event leads to; events missing here leave the status as it was.
STATUS_AFTER: Mapping[type[Any], DecisionStatus] = statuses_after(
    Decision,
    Proposed=DecisionStatus.PROPOSED,
    Accepted=DecisionStatus.ACCEPTED,
    Declined=DecisionStatus.DECLINED,
    Superseded=DecisionStatus.SUPERSEDED,
    Started=DecisionStatus.IN_PROGRESS,
    MarkedShipped=DecisionStatus.SHIPPED,
)
