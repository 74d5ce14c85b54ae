"""The rule that joins delivery to the backlog: what a production increment ships."""

from __future__ import annotations

from uuid import UUID

import msgspec

from domain.decision import Decision, DecisionNotFound
from domain.feedback import Feedback, FeedbackNotFound
from domain.increment import PRODUCTION_ENVIRONMENTS, Increment
from domain.ports import EventStore
from domain.services.loaders import MAX_DUPLICATE_HOPS, Loaded, resolve_decision, resolve_feedback
from domain.vocabulary import IN_BACKLOG, SHIPPABLE, FeedbackStatus, IncrementStatus


class Shipped(msgspec.Struct, frozen=True):
    """The keys an increment marked shipped (empty when it shipped nothing new), and the
    references it carries but was not allowed to apply (other teams' work, for a member)."""

    decisions: tuple[str, ...] = ()
    feedback: tuple[str, ...] = ()
    not_applied: tuple[str, ...] = ()


async def ship_decision(loaded: Loaded, decision: Decision, increment: Increment) -> None:
    """Mark an accepted decision shipped, and every item planned under it."""
    if decision.status not in IN_BACKLOG:
        return
    decision.mark_shipped(increment_id=increment.id, shipped_at=increment.finished_at)
    for feedback_id in decision.feedback_ids:
        item = await loaded.get_feedback(feedback_id)
        if item.status == FeedbackStatus.PLANNED and item.decision_id == decision.id:
            item.mark_shipped(
                increment_id=increment.id,
                decision_id=decision.id,
                shipped_at=increment.finished_at,
            )


async def _root(loaded: Loaded, item: Feedback) -> Feedback:
    for _ in range(MAX_DUPLICATE_HOPS):
        if item.duplicate_of is None:
            return item
        item = await loaded.get_feedback(item.duplicate_of)
    return item


async def apply_increment(
    store: EventStore,
    loaded: Loaded,
    increment: Increment,
    *,
    production: tuple[str, ...] = PRODUCTION_ENVIRONMENTS,
    only_teams: frozenset[UUID] | None = None,
) -> Shipped:
    """Mark shipped what a successful production increment references; idempotent.

    A referenced decision that is accepted or in progress becomes shipped with the items
    planned under it; a referenced item (or the root it duplicates) becomes shipped directly.
    Unknown keys are ignored: commit messages are not ours to validate. With `only_teams`,
    decisions and items of other teams are left as they are and named in `not_applied`.
    """
    if increment.status != IncrementStatus.SUCCEEDED or not increment.is_production(production):
        return Shipped()
    not_applied: list[str] = []
    for key in increment.decision_refs:
        try:
            decision_id = await resolve_decision(store, key)
            decision = await loaded.get_decision(decision_id)
        except DecisionNotFound:
            continue
        if only_teams is not None and decision.team_id not in only_teams:
            not_applied.append(key)
            continue
        await ship_decision(loaded, decision, increment)
    for key in increment.feedback_refs:
        try:
            feedback_id: UUID = await resolve_feedback(store, key)
            item = await _root(loaded, await loaded.get_feedback(feedback_id))
        except FeedbackNotFound:
            continue
        if only_teams is not None and item.team_id not in only_teams:
            not_applied.append(key)
            continue
        if item.status in SHIPPABLE:
            item.mark_shipped(
                increment_id=increment.id, decision_id=None, shipped_at=increment.finished_at
            )
    return Shipped(
        decisions=tuple(d.key for d in loaded.decisions.values() if _changed_by(d, increment)),
        feedback=tuple(f.key for f in loaded.feedback.values() if _changed_by(f, increment)),
        not_applied=tuple(not_applied),
    )


def _changed_by(aggregate: Decision | Feedback, increment: Increment) -> bool:
    return bool(aggregate.pending_events) and increment.id in aggregate.shipped_by
