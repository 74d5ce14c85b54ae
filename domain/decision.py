"""Decision: a product decision record, from proposal to shipped (or declined, superseded)."""

from __future__ import annotations

from datetime import datetime
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

PROPOSED = "proposed"
ACCEPTED = "accepted"
IN_PROGRESS = "in_progress"
SHIPPED = "shipped"
DECLINED = "declined"
SUPERSEDED = "superseded"
STATUSES = (PROPOSED, ACCEPTED, IN_PROGRESS, SHIPPED, DECLINED, SUPERSEDED)

#: Statuses in which a decision sits in its team's ranked backlog.
IN_BACKLOG = (ACCEPTED, IN_PROGRESS)
#: Statuses in which a decision can still change course.
OPEN = (PROPOSED, ACCEPTED, IN_PROGRESS)


class DecisionNotFound(NotFound):
    """Raised when no decision has the given id or key."""


def check_options(options: tuple[str, ...]) -> None:
    """Raise `ValidationError` unless `options` is a tuple of at most 20 short texts."""
    if not isinstance(options, tuple) or len(options) > 20:
        raise ValidationError("options", "must be a tuple of at most 20 options")
    for option in options:
        check_text("options", option, max_length=MAX_REASON)


class Decision(Aggregate):
    """What a team decided to do (or not), why, and which feedback it answers."""

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
        check_text("title", title, max_length=MAX_TITLE)
        check_text("rationale", rationale, max_length=MAX_TEXT)
        check_options(options)
        check_optional_text("proposed_by", proposed_by, max_length=MAX_NAME)
        check_when("proposed_at", proposed_at)
        if len(set(feedback_ids)) != len(feedback_ids):
            raise ValidationError("feedback_ids", "must not repeat an item")
        self.key = key
        self.team_id = team_id
        self.title = title
        self.rationale = rationale
        self.options = options
        self.outcome_id = outcome_id
        self.feedback_ids = feedback_ids
        self.proposed_by = proposed_by
        self.proposed_at = proposed_at
        self.status = PROPOSED
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.rank: int | None = None
        self.superseded_by: UUID | None = None
        self.shipped_by: tuple[UUID, ...] = ()
        self.shipped_at: datetime | None = None

    def check_status(self, action: str, *allowed: str) -> None:
        """Raise `InvalidTransition` unless the decision is in one of the `allowed` statuses."""
        if self.status not in allowed:
            raise InvalidTransition(f"decision {self.key}", self.status, action)

    @event("Accepted")
    def accept(self, decided_by: str | None, decided_at: datetime) -> None:
        self.check_status("accept", PROPOSED)
        check_optional_text("decided_by", decided_by, max_length=MAX_NAME)
        check_when("decided_at", decided_at)
        self.status = ACCEPTED
        self.decided_by = decided_by
        self.decided_at = decided_at

    @event("Declined")
    def decline(self, rationale: str, decided_by: str | None, decided_at: datetime) -> None:
        self.check_status("decline", *OPEN)
        check_text("rationale", rationale, max_length=MAX_TEXT)
        check_optional_text("decided_by", decided_by, max_length=MAX_NAME)
        check_when("decided_at", decided_at)
        self.status = DECLINED
        self.rationale = rationale
        self.decided_by = decided_by
        self.decided_at = decided_at
        self.rank = None

    @event("Superseded")
    def supersede(self, by_decision_id: UUID, superseded_at: datetime) -> None:
        self.check_status("supersede", *OPEN)
        if by_decision_id == self.id:
            raise ValidationError("by_decision_id", "a decision cannot supersede itself")
        check_when("superseded_at", superseded_at)
        self.status = SUPERSEDED
        self.superseded_by = by_decision_id
        self.rank = None

    @event("Started")
    def start(self, started_at: datetime) -> None:
        self.check_status("start", ACCEPTED)
        check_when("started_at", started_at)
        self.status = IN_PROGRESS

    @event("MarkedShipped")
    def mark_shipped(self, increment_id: UUID, shipped_at: datetime) -> None:
        self.check_status("mark shipped", ACCEPTED, IN_PROGRESS)
        check_when("shipped_at", shipped_at)
        self.status = SHIPPED
        self.shipped_by = (*self.shipped_by, increment_id)
        self.shipped_at = shipped_at
        self.rank = None

    @event("Ranked")
    def rank_in_backlog(self, rank: int, ranked_at: datetime) -> None:
        self.check_status("rank", *IN_BACKLOG)
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValidationError("rank", "must be a positive integer")
        check_when("ranked_at", ranked_at)
        self.rank = rank

    @event("FeedbackLinked")
    def link_feedback(self, feedback_ids: tuple[UUID, ...], linked_at: datetime) -> None:
        self.check_status("link feedback to", *OPEN)
        check_when("linked_at", linked_at)
        new = tuple(f for f in dict.fromkeys(feedback_ids) if f not in self.feedback_ids)
        self.feedback_ids = (*self.feedback_ids, *new)

    @event("FeedbackUnlinked")
    def unlink_feedback(self, feedback_ids: tuple[UUID, ...], unlinked_at: datetime) -> None:
        self.check_status("unlink feedback from", *OPEN)
        check_when("unlinked_at", unlinked_at)
        self.feedback_ids = tuple(f for f in self.feedback_ids if f not in feedback_ids)
