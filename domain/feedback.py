"""Feedback: one thing a customer told us, from receipt until the loop is closed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
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
from domain.vocabulary import (
    SHIPPABLE,
    TRIAGEABLE,
    Channel,
    FeedbackStatus,
    Impact,
    parse,
    statuses_after,
)


class FeedbackNotFound(NotFound):
    """Raised when no feedback item has the given id or key."""


class DuplicateCycle(DomainError):
    """Raised when marking an item duplicate would make it (indirectly) its own original."""


class CannotUndo(DomainError):
    """Raised when an undo names no change of the item, or a change another item made."""


#: Changes that another item's command makes to this one (a duplicate's demand arriving or
#: leaving, a repoint when the original itself became a duplicate). They are undone by
#: undoing that other item's marking, never on their own.
CAUSED_ELSEWHERE = ("DemandMerged", "DemandReturned", "DuplicateRepointed")

# What the aggregate's snapshots leave out: the library's own bookkeeping, and the
# snapshots themselves.
_NOT_STATE = frozenset(
    {"_id", "_version", "_pending_events", "_created_on", "_modified_on", "_own_events"}
)


class Demand(msgspec.Struct, frozen=True):
    """One customer asking: the item they asked in, who they are, and when they asked."""

    feedback_id: UUID
    customer_ref: str | None
    received_at: datetime


def check_channel(channel: str) -> Channel:
    """`channel` as a `Channel`; raises `ValidationError` for any other word."""
    return parse(Channel, "channel", channel)


def check_nps(nps: int | None, nps_reason: str | None) -> None:
    """Raise `ValidationError` unless `nps` is None or an integer 0-10 (its why needs a score)."""
    if nps is None:
        if nps_reason is not None:
            raise ValidationError("nps_reason", "needs an NPS score")
        return
    if isinstance(nps, bool) or not isinstance(nps, int) or not 0 <= nps <= 10:
        raise ValidationError("nps", "must be an integer from 0 to 10")
    check_optional_text("nps_reason", nps_reason, max_length=MAX_TEXT)


def check_impact(impact: str | None) -> Impact | None:
    """`impact` as an `Impact` (or None); raises `ValidationError` for any other word."""
    return None if impact is None else parse(Impact, "impact", impact)


def live_events(events: Sequence[Any]) -> list[Any]:
    """The events of one item (in version order) that still count: neither a correction
    nor an event that a correction still in force cancels.

    Walking back from the newest, a correction cancels the versions it names; a cancelled
    correction cancels nothing (undoing an undo brings its changes back). This gives the
    same state as the aggregate's own replay, which restores earlier snapshots.
    """
    cancelled: set[int] = set()
    kept: list[Any] = []
    for e in reversed(events):
        if e.originator_version in cancelled:
            continue
        if isinstance(e, Feedback.Corrected):
            cancelled.update(range(e.cancels_from, e.cancels_to + 1))
            continue
        kept.append(e)
    kept.reverse()
    return kept


class Feedback(Aggregate):
    """One thing a customer told us (see `FeedbackStatus` for its life cycle).

    Public command methods check their input and then record an event; the `@event` bodies
    hold only the state rules, because they run again whenever the item is loaded (a limit
    tightened later must never make an old item unloadable). The status each event leads
    to is `STATUS_AFTER`, applied by `Feedback.Event.apply`.
    """

    status: FeedbackStatus

    class Event(Aggregate.Event):
        """Every event of an item sets the status `STATUS_AFTER` names, and is remembered by
        the item, so that a correction can rebuild an earlier version (`undo`)."""

        def apply(self, aggregate: Any) -> None:
            # Runs after the event's own body: the status comes from the one map.
            status = STATUS_AFTER.get(type(self))
            if status is not None:
                aggregate.status = status

        def mutate(self, aggregate: Any) -> Any:
            item: Any = super().mutate(aggregate)
            item._remember(self)
            return item

    @classmethod
    def receive(
        cls,
        *,
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
    ) -> Feedback:
        """A newly received item, its input checked."""
        channel = check_channel(channel)
        check_text("touchpoint", touchpoint, max_length=MAX_TAG)
        check_text("text", text, max_length=MAX_TEXT)
        check_optional_text("customer_ref", customer_ref, max_length=MAX_NAME * 2)
        check_optional_text("segment", segment, max_length=MAX_NAME)
        check_nps(nps, nps_reason)
        check_optional_text("external_ref", external_ref, max_length=MAX_NAME * 2)
        check_when("received_at", received_at)
        return cls(
            key=key,
            channel=channel,
            touchpoint=touchpoint,
            text=text,
            customer_ref=customer_ref,
            segment=segment,
            nps=nps,
            nps_reason=nps_reason,
            external_ref=external_ref,
            received_at=received_at,
        )

    class Corrected(Event):
        """A correction: versions `cancels_from`..`cancels_to` count as never having
        happened; the item is back in its state of version `cancels_from - 1`."""

        cancels_from: int
        cancels_to: int
        corrected_at: datetime

    def _remember(self, event: Any) -> None:
        # Only a reference per event: an earlier state is rebuilt when an undo needs it.
        self.__dict__.setdefault("_own_events", {})[self.version] = event

    def _events(self) -> dict[int, Any]:
        events: dict[int, Any] = self.__dict__.get("_own_events", {})
        return events

    def _event_name(self, version: int) -> str:
        return type(self._events()[version]).__name__

    def state_at(self, version: int) -> dict[str, Any]:
        """The item's attributes as they were right after `version`, rebuilt by replaying
        its own events up to it (corrections among them restore in turn)."""
        events = self._events()
        if version not in events:
            raise CannotUndo(f"feedback {self.key} has no version {version}")
        earlier: Any = None
        for v, e in events.items():
            if v > version:
                break
            if earlier is not None:
                earlier.version = v - 1  # loaded as of a time, an item may skip versions
            earlier = e.mutate(earlier)
        return {k: value for k, value in vars(earlier).items() if k not in _NOT_STATE}

    def undo(self, before_version: int | None, corrected_at: datetime) -> None:
        """Return the item to the state it had before `before_version` (default: before
        its last change), recording a correction that cancels that version and every
        later one. Nothing is erased: the cancelled events stay in the history.

        Raises `CannotUndo` for the receipt, for versions the item does not have, and
        when a cancelled change was made by another item's command (`CAUSED_ELSEWHERE`).
        """
        first = self.version if before_version is None else before_version
        if isinstance(first, bool) or not isinstance(first, int):
            raise ValidationError("before_version", "must be an integer")
        if first <= 1:
            raise CannotUndo(f"feedback {self.key}: its receipt cannot be undone")
        if first > self.version:
            raise CannotUndo(
                f"feedback {self.key} has no version {first} (it is at {self.version})"
            )
        check_when("corrected_at", corrected_at)
        restored = self.state_at(first - 1)
        self._check_nothing_caused_elsewhere_stays(first)
        if (
            restored["status"] == FeedbackStatus.DUPLICATE
            and self.status != FeedbackStatus.DUPLICATE
        ):
            raise CannotUndo(
                f"undoing would make feedback {self.key} a duplicate again; mark it instead"
            )
        self._correct(cancels_from=first, cancels_to=self.version, corrected_at=corrected_at)

    def _check_nothing_caused_elsewhere_stays(self, first: int) -> None:
        """Raise `CannotUndo` when the versions from `first` on hold a change another
        item's command made (demand arriving or leaving, a repoint) that has not been taken
        back within them: restoring the earlier state would silently drop it.

        The item's own marking as a duplicate is taken back by `undo_feedback`, which
        returns its demand; so up to that marking the demand must be as it was before."""
        versions = range(first, self.version + 1)
        caused = [v for v in versions if self._event_name(v) in CAUSED_ELSEWHERE]
        if not caused:
            return
        marking = next((v for v in versions if self._event_name(v) == "MarkedDuplicate"), None)
        last = self.version if marking is None else marking - 1

        def asked(state: dict[str, Any]) -> tuple[set[UUID], set[UUID], UUID | None]:
            return (
                {d.feedback_id for d in state["demand"]},
                set(state["duplicate_ids"]),
                state["duplicate_of"],
            )

        if asked(self.state_at(first - 1)) != asked(self.state_at(last)):
            version = caused[0]
            raise CannotUndo(
                f"feedback {self.key} version {version} ({self._event_name(version)}) was caused by"
                " another item; undo the duplicate's marking on that item instead"
            )

    @event(Corrected)
    def _correct(self, cancels_from: int, cancels_to: int, corrected_at: datetime) -> None:
        # State precondition only: the versions must exist (replays always pass it).
        self.__dict__.update(self.state_at(cancels_from - 1))

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
        self.followed_up_at: datetime | None = None

    def check_status(self, action: str, *allowed: FeedbackStatus) -> None:
        """Raise `InvalidTransition` unless the item is in one of the `allowed` statuses."""
        if self.status not in allowed:
            raise InvalidTransition(f"feedback {self.key}", self.status, action)

    @property
    def earliest_received_at(self) -> datetime:
        """When the first customer asked (across merged duplicates)."""
        return min((d.received_at for d in self.demand), default=self.received_at)

    def check_milestone(self, field: str, when: datetime) -> None:
        """Raise unless `when` is a sane time no earlier than the first ask.

        Only for times a caller states: a milestone before anyone asked would make a
        negative lead time.
        """
        check_when(field, when)
        first = self.earliest_received_at
        if when < first:
            raise ValidationError(
                field, f"must not come before the item was received ({first.isoformat()})"
            )

    def _check_time(self, field: str, when: datetime, *, stated: bool) -> None:
        if stated:
            self.check_milestone(field, when)
        else:
            check_when(field, when)

    def triage(
        self,
        team_id: UUID,
        tags: tuple[str, ...],
        impact: str | None,
        outcome_id: UUID | None,
        triaged_at: datetime,
    ) -> None:
        check_tags("tags", tags)
        level = check_impact(impact)
        self.check_milestone("triaged_at", triaged_at)
        self._triage(
            team_id=team_id, tags=tags, impact=level, outcome_id=outcome_id, triaged_at=triaged_at
        )

    @event("Triaged")
    def _triage(
        self,
        team_id: UUID,
        tags: tuple[str, ...],
        impact: str | None,
        outcome_id: UUID | None,
        triaged_at: datetime,
    ) -> None:
        self.check_status("triage", *TRIAGEABLE)
        self.team_id = team_id
        self.tags = tags
        self.impact = impact
        self.outcome_id = outcome_id
        self.deferred_until = None

    def plan(self, decision_id: UUID, planned_at: datetime, *, stated: bool = True) -> None:
        """Plan the item under a decision.

        `stated=False` when the time is the decision's, not one the caller gives for this
        item: a decision may be taken before this customer asked (lead-time metrics count
        such a span as zero and say how many they clamped), so it is not refused.
        """
        self._check_time("planned_at", planned_at, stated=stated)
        self._plan(decision_id=decision_id, planned_at=planned_at)

    @event("Planned")
    def _plan(self, decision_id: UUID, planned_at: datetime) -> None:
        self.check_status("plan", FeedbackStatus.TRIAGED, FeedbackStatus.PLANNED)
        self.decision_id = decision_id

    def unplan(self, reason: str, unplanned_at: datetime) -> None:
        check_text("reason", reason, max_length=MAX_REASON)
        check_when("unplanned_at", unplanned_at)
        self._unplan(reason=reason, unplanned_at=unplanned_at)

    @event("Unplanned")
    def _unplan(self, reason: str, unplanned_at: datetime) -> None:
        self.check_status("unplan", FeedbackStatus.PLANNED)
        self.decision_id = None

    def decline(
        self,
        reason: str,
        decision_id: UUID | None,
        declined_at: datetime,
        *,
        stated: bool = True,
    ) -> None:
        """Decline the item; `stated=False` as for `plan`, when a declined decision decides."""
        check_text("reason", reason, max_length=MAX_TEXT)
        self._check_time("declined_at", declined_at, stated=stated)
        self._decline(reason=reason, decision_id=decision_id, declined_at=declined_at)

    @event("Declined")
    def _decline(self, reason: str, decision_id: UUID | None, declined_at: datetime) -> None:
        self.check_status(
            "decline",
            FeedbackStatus.NEW,
            FeedbackStatus.TRIAGED,
            FeedbackStatus.PLANNED,
            FeedbackStatus.DEFERRED,
        )
        self.reason = reason
        self.decision_id = decision_id

    def defer(self, until: date, reason: str | None, deferred_at: datetime) -> None:
        check_optional_text("reason", reason, max_length=MAX_REASON)
        self.check_milestone("deferred_at", deferred_at)
        if isinstance(until, datetime) or not isinstance(until, date):
            raise ValidationError("until", "must be a date")
        if until <= deferred_at.date():
            raise ValidationError("until", "must lie after the day it is deferred on")
        self._defer(until=until, reason=reason, deferred_at=deferred_at)

    @event("Deferred")
    def _defer(self, until: date, reason: str | None, deferred_at: datetime) -> None:
        self.check_status("defer", FeedbackStatus.NEW, FeedbackStatus.TRIAGED)
        self.deferred_until = until
        self.reason = reason

    def reopen(self, reason: str, reopened_at: datetime) -> None:
        check_text("reason", reason, max_length=MAX_TEXT)
        self.check_milestone("reopened_at", reopened_at)
        self._reopen(reason=reason, reopened_at=reopened_at)

    @event("Reopened")
    def _reopen(self, reason: str, reopened_at: datetime) -> None:
        self.check_status(
            "reopen", FeedbackStatus.SHIPPED, FeedbackStatus.CLOSED, FeedbackStatus.DECLINED
        )
        # Back to the triage inbox; team and tags stay as a starting point.
        self.reason = reason
        self.decision_id = None
        self.shipped_at = None
        self.loop_closed_how = None

    def mark_shipped(
        self, increment_id: UUID, decision_id: UUID | None, shipped_at: datetime
    ) -> None:
        # The ship time comes from the delivery tooling (the outside world): it is not
        # refused when it precedes the first ask; lead-time metrics count such a span as
        # zero and say how many they clamped.
        check_when("shipped_at", shipped_at)
        if decision_id is not None and decision_id != self.decision_id:
            raise ValidationError("decision_id", f"feedback {self.key} is not planned under it")
        self._mark_shipped(
            increment_id=increment_id, decision_id=decision_id, shipped_at=shipped_at
        )

    @event("MarkedShipped")
    def _mark_shipped(
        self, increment_id: UUID, decision_id: UUID | None, shipped_at: datetime
    ) -> None:
        self.check_status("mark shipped", *SHIPPABLE)
        self.shipped_by = (*self.shipped_by, increment_id)
        self.shipped_at = shipped_at

    def close_loop(self, how: str, note: str | None, closed_at: datetime) -> None:
        check_text("how", how, max_length=MAX_TAG)
        check_optional_text("note", note, max_length=MAX_TEXT)
        self.check_milestone("closed_at", closed_at)
        self._close_loop(how=how, note=note, closed_at=closed_at)

    @event("LoopClosed")
    def _close_loop(self, how: str, note: str | None, closed_at: datetime) -> None:
        self.check_status("close the loop on", FeedbackStatus.SHIPPED, FeedbackStatus.DECLINED)
        self.loop_closed_how = how
        self._contacted(closed_at)

    def follow_up(self, how: str, note: str | None, followed_up_at: datetime) -> None:
        """Someone contacted the customer about what they said (a detractor called back),
        in any status: unlike closing the loop, it needs nothing shipped or declined yet."""
        check_text("how", how, max_length=MAX_TAG)
        check_optional_text("note", note, max_length=MAX_TEXT)
        self.check_milestone("followed_up_at", followed_up_at)
        self._follow_up(how=how, note=note, followed_up_at=followed_up_at)

    @event("FollowedUp")
    def _follow_up(self, how: str, note: str | None, followed_up_at: datetime) -> None:
        self._contacted(followed_up_at)

    def _contacted(self, when: datetime) -> None:
        # The customer's first contact in the world's time, whichever command recorded it
        # (a follow-up, or the loop closing): what the detractor follow-up figures measure.
        if self.followed_up_at is None or when < self.followed_up_at:
            self.followed_up_at = when

    def mark_duplicate(self, original_id: UUID, marked_at: datetime) -> None:
        if original_id == self.id:
            raise DuplicateCycle(f"feedback {self.key} cannot duplicate itself")
        check_when("marked_at", marked_at)
        self._mark_duplicate(original_id=original_id, marked_at=marked_at)

    @event("MarkedDuplicate")
    def _mark_duplicate(self, original_id: UUID, marked_at: datetime) -> None:
        self.check_status("mark duplicate", *TRIAGEABLE)
        self.duplicate_of = original_id
        self.demand = ()
        self.duplicate_ids = ()

    def repoint_duplicate(self, original_id: UUID, repointed_at: datetime) -> None:
        if original_id == self.id:
            raise DuplicateCycle(f"feedback {self.key} cannot duplicate itself")
        check_when("repointed_at", repointed_at)
        self._repoint_duplicate(original_id=original_id, repointed_at=repointed_at)

    @event("DuplicateRepointed")
    def _repoint_duplicate(self, original_id: UUID, repointed_at: datetime) -> None:
        self.check_status("repoint", FeedbackStatus.DUPLICATE)
        self.duplicate_of = original_id

    def merge_demand(
        self, duplicate_ids: tuple[UUID, ...], demand: tuple[Demand, ...], merged_at: datetime
    ) -> None:
        if self.id in duplicate_ids:
            raise DuplicateCycle(f"feedback {self.key} cannot absorb its own demand")
        check_when("merged_at", merged_at)
        self._merge_demand(duplicate_ids=duplicate_ids, demand=demand, merged_at=merged_at)

    @event("DemandMerged")
    def _merge_demand(
        self, duplicate_ids: tuple[UUID, ...], demand: tuple[Demand, ...], merged_at: datetime
    ) -> None:
        if self.status == FeedbackStatus.DUPLICATE:
            raise InvalidTransition(f"feedback {self.key}", self.status, "merge demand into")
        self.duplicate_ids = (*self.duplicate_ids, *duplicate_ids)
        self.demand = (*self.demand, *demand)

    def return_demand(
        self, duplicate_ids: tuple[UUID, ...], demand: tuple[Demand, ...], returned_at: datetime
    ) -> None:
        """A duplicate's marking was undone: the demand it brought leaves this item."""
        check_when("returned_at", returned_at)
        self._return_demand(duplicate_ids=duplicate_ids, demand=demand, returned_at=returned_at)

    @event("DemandReturned")
    def _return_demand(
        self, duplicate_ids: tuple[UUID, ...], demand: tuple[Demand, ...], returned_at: datetime
    ) -> None:
        gone = set(duplicate_ids)
        self.duplicate_ids = tuple(d for d in self.duplicate_ids if d not in gone)
        asked_here = {d.feedback_id for d in demand}
        self.demand = tuple(d for d in self.demand if d.feedback_id not in asked_here)

    def edit_text(self, text: str, edited_at: datetime) -> None:
        check_text("text", text, max_length=MAX_TEXT)
        check_when("edited_at", edited_at)
        self._edit_text(text=text, edited_at=edited_at)

    @event("TextEdited")
    def _edit_text(self, text: str, edited_at: datetime) -> None:
        self.text = text

    def retag(self, tags: tuple[str, ...], retagged_at: datetime) -> None:
        check_tags("tags", tags)
        check_when("retagged_at", retagged_at)
        self._retag(tags=tags, retagged_at=retagged_at)

    @event("Retagged")
    def _retag(self, tags: tuple[str, ...], retagged_at: datetime) -> None:
        self.tags = tags


#: The status each feedback event leads to; events missing here leave the status as it was.
STATUS_AFTER: Mapping[type[Any], FeedbackStatus] = statuses_after(
    Feedback,
    Received=FeedbackStatus.NEW,
    Triaged=FeedbackStatus.TRIAGED,
    Planned=FeedbackStatus.PLANNED,
    Unplanned=FeedbackStatus.TRIAGED,
    Declined=FeedbackStatus.DECLINED,
    Deferred=FeedbackStatus.DEFERRED,
    Reopened=FeedbackStatus.NEW,
    MarkedShipped=FeedbackStatus.SHIPPED,
    LoopClosed=FeedbackStatus.CLOSED,
    MarkedDuplicate=FeedbackStatus.DUPLICATE,
)
