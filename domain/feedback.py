"""Feedback: one thing a customer told us, from receipt until the loop is closed."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate, event

from domain.common import (
    MAX_NAME,
    MAX_REASON,
    MAX_TAG,
    MAX_TEXT,
    check_optional_text,
    check_tags,
    check_text,
    check_when,
)
from domain.errors import DomainError, InvalidTransition, NotFound, ValidationError

#: Where feedback reaches us. A fixed set, so reports group reliably:
#: web (in-product widget or site form), chat (live chat, messaging), email, phone (calls,
#: voicemail), social (public posts, reviews), survey (NPS/CSAT answers), support (support
#: tickets), sales (what prospects and account managers hear), internal (our own people).
CHANNELS = ("web", "chat", "email", "phone", "social", "survey", "support", "sales", "internal")

#: How much the reported problem or wish matters, set at triage.
IMPACTS = ("low", "medium", "high", "critical")

# Statuses, exposed by the API exactly as spelled here.
NEW = "new"
TRIAGED = "triaged"
PLANNED = "planned"
SHIPPED = "shipped"
CLOSED = "closed"
DECLINED = "declined"
DUPLICATE = "duplicate"
DEFERRED = "deferred"
STATUSES = (NEW, TRIAGED, PLANNED, SHIPPED, CLOSED, DECLINED, DUPLICATE, DEFERRED)

#: Statuses from which an increment may mark the item shipped.
SHIPPABLE = (NEW, TRIAGED, PLANNED, DEFERRED)


class FeedbackNotFound(NotFound):
    """Raised when no feedback item has the given id or key."""


class DuplicateCycle(DomainError):
    """Raised when marking an item duplicate would make it (indirectly) its own original."""


class Demand(msgspec.Struct, frozen=True):
    """One customer asking: the item they asked in, who they are, and when they asked."""

    feedback_id: UUID
    customer_ref: str | None
    received_at: datetime


def check_channel(channel: str) -> None:
    """Raise `ValidationError` unless `channel` is one of `CHANNELS`."""
    if channel not in CHANNELS:
        raise ValidationError("channel", f"unknown channel {channel!r}; one of {CHANNELS}")


def check_nps(nps: int | None, nps_reason: str | None) -> None:
    """Raise `ValidationError` unless `nps` is None or an integer 0-10 (its why needs a score)."""
    if nps is None:
        if nps_reason is not None:
            raise ValidationError("nps_reason", "needs an NPS score")
        return
    if isinstance(nps, bool) or not isinstance(nps, int) or not 0 <= nps <= 10:
        raise ValidationError("nps", "must be an integer from 0 to 10")
    check_optional_text("nps_reason", nps_reason, max_length=MAX_TEXT)


def check_impact(impact: str | None) -> None:
    """Raise `ValidationError` unless `impact` is None or one of `IMPACTS`."""
    if impact is not None and impact not in IMPACTS:
        raise ValidationError("impact", f"unknown impact {impact!r}; one of {IMPACTS}")


class Feedback(Aggregate):
    """One thing a customer told us (see `STATUSES` for its life cycle)."""

    @event("Received")
    def __init__(
        self,
        key: str,
        channel: str,
        touchpoint: str,
        text: str,
        customer_ref: str | None,
        segment: str | None,
        nps: int | None,
        nps_reason: str | None,
        external_ref: str | None,
        received_at: datetime,
    ) -> None:
        check_channel(channel)
        check_text("touchpoint", touchpoint, max_length=MAX_TAG)
        check_text("text", text, max_length=MAX_TEXT)
        check_optional_text("customer_ref", customer_ref, max_length=MAX_NAME * 2)
        check_optional_text("segment", segment, max_length=MAX_NAME)
        check_nps(nps, nps_reason)
        check_optional_text("external_ref", external_ref, max_length=MAX_NAME * 2)
        check_when("received_at", received_at)
        self.key = key
        self.channel = channel
        self.touchpoint = touchpoint
        self.text = text
        self.customer_ref = customer_ref
        self.segment = segment
        self.nps = nps
        self.nps_reason = nps_reason
        self.external_ref = external_ref
        self.received_at = received_at
        self.status = NEW
        self.team_id: UUID | None = None
        self.tags: tuple[str, ...] = ()
        self.impact: str | None = None
        self.outcome_id: UUID | None = None
        self.decision_id: UUID | None = None
        self.deferred_until: date | None = None
        self.reason: str | None = None
        self.duplicate_of: UUID | None = None
        self.duplicate_ids: tuple[UUID, ...] = ()
        self.demand: tuple[Demand, ...] = (Demand(self.id, customer_ref, received_at),)
        self.shipped_by: tuple[UUID, ...] = ()
        self.shipped_at: datetime | None = None
        self.loop_closed_how: str | None = None

    def check_status(self, action: str, *allowed: str) -> None:
        """Raise `InvalidTransition` unless the item is in one of the `allowed` statuses."""
        if self.status not in allowed:
            raise InvalidTransition(f"feedback {self.key}", self.status, action)

    @property
    def earliest_received_at(self) -> datetime:
        """When the first customer asked (across merged duplicates)."""
        return min((d.received_at for d in self.demand), default=self.received_at)

    @event("Triaged")
    def triage(
        self,
        team_id: UUID,
        tags: tuple[str, ...],
        impact: str | None,
        outcome_id: UUID | None,
        triaged_at: datetime,
    ) -> None:
        self.check_status("triage", NEW, TRIAGED, DEFERRED)
        check_tags("tags", tags)
        check_impact(impact)
        check_when("triaged_at", triaged_at)
        self.status = TRIAGED
        self.team_id = team_id
        self.tags = tags
        self.impact = impact
        self.outcome_id = outcome_id
        self.deferred_until = None

    @event("Planned")
    def plan(self, decision_id: UUID, planned_at: datetime) -> None:
        self.check_status("plan", TRIAGED, PLANNED)
        check_when("planned_at", planned_at)
        self.status = PLANNED
        self.decision_id = decision_id

    @event("Unplanned")
    def unplan(self, reason: str, unplanned_at: datetime) -> None:
        self.check_status("unplan", PLANNED)
        check_text("reason", reason, max_length=MAX_REASON)
        check_when("unplanned_at", unplanned_at)
        self.status = TRIAGED
        self.decision_id = None

    @event("Declined")
    def decline(self, reason: str, decision_id: UUID | None, declined_at: datetime) -> None:
        self.check_status("decline", NEW, TRIAGED, PLANNED, DEFERRED)
        check_text("reason", reason, max_length=MAX_TEXT)
        check_when("declined_at", declined_at)
        self.status = DECLINED
        self.reason = reason
        self.decision_id = decision_id

    @event("Deferred")
    def defer(self, until: date, reason: str | None, deferred_at: datetime) -> None:
        self.check_status("defer", NEW, TRIAGED)
        check_optional_text("reason", reason, max_length=MAX_REASON)
        check_when("deferred_at", deferred_at)
        if isinstance(until, datetime) or not isinstance(until, date):
            raise ValidationError("until", "must be a date")
        if until <= deferred_at.date():
            raise ValidationError("until", "must lie after the day it is deferred on")
        self.status = DEFERRED
        self.deferred_until = until
        self.reason = reason

    @event("Reopened")
    def reopen(self, reason: str, reopened_at: datetime) -> None:
        self.check_status("reopen", SHIPPED, CLOSED, DECLINED)
        check_text("reason", reason, max_length=MAX_TEXT)
        check_when("reopened_at", reopened_at)
        # Back to the triage inbox; team and tags stay as a starting point.
        self.status = NEW
        self.reason = reason
        self.decision_id = None
        self.shipped_at = None
        self.loop_closed_how = None

    @event("MarkedShipped")
    def mark_shipped(
        self, increment_id: UUID, decision_id: UUID | None, shipped_at: datetime
    ) -> None:
        self.check_status("mark shipped", *SHIPPABLE)
        check_when("shipped_at", shipped_at)
        if decision_id is not None and decision_id != self.decision_id:
            raise ValidationError("decision_id", f"feedback {self.key} is not planned under it")
        self.status = SHIPPED
        self.shipped_by = (*self.shipped_by, increment_id)
        self.shipped_at = shipped_at

    @event("LoopClosed")
    def close_loop(self, how: str, note: str | None, closed_at: datetime) -> None:
        self.check_status("close the loop on", SHIPPED, DECLINED)
        check_text("how", how, max_length=MAX_TAG)
        check_optional_text("note", note, max_length=MAX_TEXT)
        check_when("closed_at", closed_at)
        self.status = CLOSED
        self.loop_closed_how = how

    @event("MarkedDuplicate")
    def mark_duplicate(self, original_id: UUID, marked_at: datetime) -> None:
        self.check_status("mark duplicate", NEW, TRIAGED, DEFERRED)
        if original_id == self.id:
            raise DuplicateCycle(f"feedback {self.key} cannot duplicate itself")
        check_when("marked_at", marked_at)
        self.status = DUPLICATE
        self.duplicate_of = original_id
        self.demand = ()
        self.duplicate_ids = ()

    @event("DuplicateRepointed")
    def repoint_duplicate(self, original_id: UUID, repointed_at: datetime) -> None:
        self.check_status("repoint", DUPLICATE)
        if original_id == self.id:
            raise DuplicateCycle(f"feedback {self.key} cannot duplicate itself")
        check_when("repointed_at", repointed_at)
        self.duplicate_of = original_id

    @event("DemandMerged")
    def merge_demand(
        self, duplicate_ids: tuple[UUID, ...], demand: tuple[Demand, ...], merged_at: datetime
    ) -> None:
        if self.status == DUPLICATE:
            raise InvalidTransition(f"feedback {self.key}", self.status, "merge demand into")
        if self.id in duplicate_ids:
            raise DuplicateCycle(f"feedback {self.key} cannot absorb its own demand")
        check_when("merged_at", merged_at)
        self.duplicate_ids = (*self.duplicate_ids, *duplicate_ids)
        self.demand = (*self.demand, *demand)

    @event("TextEdited")
    def edit_text(self, text: str, edited_at: datetime) -> None:
        check_text("text", text, max_length=MAX_TEXT)
        check_when("edited_at", edited_at)
        self.text = text

    @event("Retagged")
    def retag(self, tags: tuple[str, ...], retagged_at: datetime) -> None:
        check_tags("tags", tags)
        check_when("retagged_at", retagged_at)
        self.tags = tags
