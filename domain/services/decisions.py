"""Services for decisions, and the rules that carry their fate to the feedback they answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from domain.access import SYSTEM, Actor
from domain.common import as_utc
from domain.decision import Decision
from domain.feedback import Feedback
from domain.increment import Increment, IncrementNotFound
from domain.index import HUMAN_KEY, Index
from domain.keys import DECISION_PREFIX, format_key
from domain.ports import EventStore
from domain.services.base import Written, check_expected_version, load, save, written
from domain.services.loaders import (
    Loaded,
    check_may_link,
    load_decision,
    load_feedback,
    load_root,
)
from domain.services.shipping import ship_decision
from domain.services.teams import load_outcome, load_team
from domain.vocabulary import IN_BACKLOG, FeedbackStatus


async def _roots(
    store: EventStore, refs: Sequence[str | UUID], actor: Actor, decision: Decision | None
) -> dict[UUID, Feedback]:
    """The referenced items, each replaced by the root it duplicates, distinct, by id; the
    actor must act for each root (and for the decision it is linked to)."""
    roots: dict[UUID, Feedback] = {}
    for ref in refs:
        root = await load_root(store, await load_feedback(store, ref))
        if decision is None:
            actor.check_team(root.team_id, what=f"feedback {root.key}")
        else:
            check_may_link(actor, decision, root)
        roots.setdefault(root.id, root)
    return roots


async def _for_update(
    store: EventStore, ref: str | UUID, expected: int | None, actor: Actor
) -> tuple[Loaded, Decision]:
    """The decision, loaded once; the actor must act for its team and have seen its version."""
    decision = await load_decision(store, ref)
    actor.check_team(decision.team_id, what=f"decision {decision.key}")
    check_expected_version(decision, expected)
    loaded = Loaded(store)
    loaded.add(decision)
    return loaded, decision


async def _plan_triaged(loaded: Loaded, decision: Decision, when: datetime) -> None:
    """Plan every triaged item the decision answers under it (the decision is in the backlog)."""
    for feedback_id in decision.feedback_ids:
        item = await loaded.get_feedback(feedback_id)
        if item.status == FeedbackStatus.TRIAGED:
            item.plan(decision_id=decision.id, planned_at=when, stated=False)


async def propose_decision(
    store: EventStore,
    *,
    team: str | UUID,
    title: str,
    rationale: str,
    options: Sequence[str] = (),
    outcome_id: UUID | None = None,
    feedback: Sequence[str | UUID] = (),
    proposed_by: str | None = None,
    proposed_at: datetime | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Record a proposed decision with its `DEC-<n>` key; answers its id and key."""
    owner = await load_team(store, team)
    actor.check_acts_for_team(owner.id, owner.slug)
    if outcome_id is not None:
        await load_outcome(store, outcome_id)
    feedback_ids = tuple(await _roots(store, feedback, actor, None))
    when = as_utc(proposed_at, "proposed_at")
    proposed_by = actor.name if proposed_by is None else proposed_by
    key = format_key(DECISION_PREFIX, await store.next_number(DECISION_PREFIX))
    decision = Decision.propose(
        key=key,
        team_id=owner.id,
        title=title,
        rationale=rationale,
        options=tuple(options),
        outcome_id=outcome_id,
        feedback_ids=feedback_ids,
        proposed_by=proposed_by,
        proposed_at=when,
    )
    index = Index(kind=HUMAN_KEY, key=key, target_id=decision.id, registered_at=when)
    return written(decision, await save(store, decision, index), key=key, created=True)


async def accept_decision(
    store: EventStore,
    ref: str | UUID,
    *,
    decided_by: str | None = None,
    decided_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Accept the decision into its team's backlog; the triaged items it answers get planned."""
    loaded, decision = await _for_update(store, ref, expected_version, actor)
    when = as_utc(decided_at, "decided_at")
    decision.accept(decided_by=decided_by or actor.name, decided_at=when)
    await _plan_triaged(loaded, decision, when)
    return written(decision, await save(store, *loaded.all()), key=decision.key)


async def decline_decision(
    store: EventStore,
    ref: str | UUID,
    *,
    rationale: str | None = None,
    decided_by: str | None = None,
    decided_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Decline the decision; the items planned under it are declined with its rationale."""
    loaded, decision = await _for_update(store, ref, expected_version, actor)
    when = as_utc(decided_at, "decided_at")
    decision.decline(
        rationale=rationale or decision.rationale,
        decided_by=decided_by or actor.name,
        decided_at=when,
    )
    for feedback_id in decision.feedback_ids:
        item = await loaded.get_feedback(feedback_id)
        if item.status == FeedbackStatus.PLANNED and item.decision_id == decision.id:
            item.decline(
                reason=decision.rationale, decision_id=decision.id, declined_at=when, stated=False
            )
    return written(decision, await save(store, *loaded.all()), key=decision.key)


async def supersede_decision(
    store: EventStore,
    ref: str | UUID,
    *,
    by: str | UUID,
    superseded_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Replace the decision by another; its feedback moves to the new one.

    Items planned under the old decision stay planned when the new one is in the backlog,
    else they go back to triaged until the new one is accepted.
    """
    loaded, old = await _for_update(store, ref, expected_version, actor)
    new = await loaded.get_decision((await load_decision(store, by)).id)
    actor.check_team(new.team_id, what=f"decision {new.key}")
    when = as_utc(superseded_at, "superseded_at")
    old.supersede(by_decision_id=new.id, superseded_at=when)
    new.link_feedback(feedback_ids=old.feedback_ids, linked_at=when)
    for feedback_id in old.feedback_ids:
        item = await loaded.get_feedback(feedback_id)
        if item.status != FeedbackStatus.PLANNED or item.decision_id != old.id:
            continue
        if new.status in IN_BACKLOG:
            item.plan(decision_id=new.id, planned_at=when, stated=False)
        else:
            item.unplan(reason=f"{old.key} superseded by {new.key}", unplanned_at=when)
    if new.status in IN_BACKLOG:
        await _plan_triaged(loaded, new, when)
    return written(old, await save(store, *loaded.all()), key=old.key)


async def start_decision(
    store: EventStore,
    ref: str | UUID,
    *,
    started_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """The team starts working on an accepted decision."""
    _, decision = await _for_update(store, ref, expected_version, actor)
    decision.start(started_at=as_utc(started_at, "started_at"))
    return written(decision, await save(store, decision), key=decision.key)


async def rank_decision(
    store: EventStore,
    ref: str | UUID,
    *,
    rank: int,
    ranked_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Place the decision in its team's backlog (1 is the top; ties sort by acceptance)."""
    _, decision = await _for_update(store, ref, expected_version, actor)
    decision.rank_in_backlog(rank=rank, ranked_at=as_utc(ranked_at, "ranked_at"))
    return written(decision, await save(store, decision), key=decision.key)


async def link_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    feedback: Sequence[str | UUID],
    linked_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """The decision answers these items too (duplicates count as their root).

    When the decision is already in the backlog, triaged items get planned under it.
    """
    loaded, decision = await _for_update(store, ref, expected_version, actor)
    when = as_utc(linked_at, "linked_at")
    roots = await _roots(store, feedback, actor, decision)
    loaded.add(*roots.values())
    feedback_ids = tuple(roots)
    decision.link_feedback(feedback_ids=feedback_ids, linked_at=when)
    if decision.status in IN_BACKLOG:
        await _plan_triaged(loaded, decision, when)
    return written(decision, await save(store, *loaded.all()), key=decision.key)


async def unlink_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    feedback: Sequence[str | UUID],
    unlinked_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """The decision no longer answers these items; those planned under it return to triaged."""
    loaded, decision = await _for_update(store, ref, expected_version, actor)
    when = as_utc(unlinked_at, "unlinked_at")
    roots = await _roots(store, feedback, actor, decision)
    loaded.add(*roots.values())
    feedback_ids = tuple(roots)
    decision.unlink_feedback(feedback_ids=feedback_ids, unlinked_at=when)
    for feedback_id in feedback_ids:
        item = await loaded.get_feedback(feedback_id)
        if item.status == FeedbackStatus.PLANNED and item.decision_id == decision.id:
            item.unplan(reason=f"unlinked from {decision.key}", unplanned_at=when)
    return written(decision, await save(store, *loaded.all()), key=decision.key)


async def mark_decision_shipped(
    store: EventStore,
    ref: str | UUID,
    *,
    increment_id: UUID,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Mark the decision shipped by a recorded increment (and the items planned under it).

    Normally `record_increment` does this from commit references; this is for increments
    whose commits did not mention the decision. Does nothing when it is already shipped.
    """
    loaded, decision = await _for_update(store, ref, expected_version, actor)
    increment = await load(store, Increment, increment_id, IncrementNotFound)
    await ship_decision(loaded, decision, increment)
    return written(decision, await save(store, *loaded.all()), key=decision.key)


__all__ = [
    "accept_decision",
    "decline_decision",
    "link_feedback",
    "mark_decision_shipped",
    "propose_decision",
    "rank_decision",
    "start_decision",
    "supersede_decision",
    "unlink_feedback",
]
