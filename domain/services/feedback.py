"""Services for feedback items: receive, triage, merge duplicates, plan, decline, close."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from domain.access import SYSTEM, Actor
from domain.common import as_utc, normalize_tags
from domain.decision import Decision, DecisionNotFound
from domain.errors import ConcurrencyConflict, InvalidTransition
from domain.feedback import (
    DuplicateCycle,
    Feedback,
    FeedbackNotFound,
    check_channel,
    check_nps,
)
from domain.index import FEEDBACK_SOURCE, HUMAN_KEY, Index
from domain.keys import FEEDBACK_PREFIX, format_key
from domain.ports import EventStore
from domain.services.base import (
    Written,
    check_expected_version,
    find_index,
    load,
    save,
    written,
)
from domain.services.loaders import check_may_link, load_decision, load_feedback, load_root
from domain.services.teams import load_outcome, load_team
from domain.vocabulary import IN_BACKLOG, OPEN_DECISIONS, FeedbackStatus

#: How many times `receive_feedback` re-reads after losing a race for the same reference.
_RECEIVE_RETRIES = 3


def _source_key(channel: str, external_ref: str) -> str:
    return f"{channel}:{external_ref}"


async def _already_received(store: EventStore, channel: str, external_ref: str) -> Written | None:
    index = await find_index(store, FEEDBACK_SOURCE, _source_key(channel, external_ref))
    if index is None or index.target_id is None:
        return None
    item = await load(store, Feedback, index.target_id, FeedbackNotFound)
    return written(item, None, key=item.key, created=False)


async def receive_feedback(
    store: EventStore,
    *,
    channel: str,
    text: str,
    touchpoint: str = "product",
    customer_ref: str | None = None,
    segment: str | None = None,
    nps: int | None = None,
    nps_reason: str | None = None,
    external_ref: str | None = None,
    received_at: datetime | None = None,
) -> Written:
    """Record what a customer told us; answers its id and `FB-<n>` key.

    The same (channel, external_ref) received again answers the first item (`created` false,
    `position` None) and records nothing.
    """
    channel = channel.strip().lower()
    check_channel(channel)
    check_nps(nps, nps_reason)
    when = as_utc(received_at, "received_at")
    for _ in range(_RECEIVE_RETRIES):
        if external_ref is not None:
            earlier = await _already_received(store, channel, external_ref)
            if earlier is not None:
                return earlier
        key = format_key(FEEDBACK_PREFIX, await store.next_number(FEEDBACK_PREFIX))
        item = Feedback.receive(
            key=key,
            channel=channel,
            touchpoint=touchpoint.strip().lower(),
            text=text,
            customer_ref=customer_ref,
            segment=segment,
            nps=nps,
            nps_reason=nps_reason,
            external_ref=external_ref,
            received_at=when,
        )
        indexes = [Index(kind=HUMAN_KEY, key=key, target_id=item.id, registered_at=when)]
        if external_ref is not None:
            source = _source_key(channel, external_ref)
            indexes.append(
                Index(kind=FEEDBACK_SOURCE, key=source, target_id=item.id, registered_at=when)
            )
        try:
            position = await save(store, item, *indexes)
        except ConcurrencyConflict:
            if external_ref is None:
                raise
            continue  # someone received the same reference first: answer theirs
        return written(item, position, key=key, created=True)
    raise ConcurrencyConflict(f"could not receive {channel}:{external_ref}")


async def _for_update(
    store: EventStore, ref: str | UUID, expected: int | None, actor: Actor
) -> Feedback:
    """The item, loaded once; the actor must act for its team and have seen its version."""
    item = await load_feedback(store, ref)
    actor.check_team(item.team_id, what=f"feedback {item.key}")
    check_expected_version(item, expected)
    return item


async def triage_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    team: str | UUID,
    tags: Sequence[str] = (),
    impact: str | None = None,
    outcome_id: UUID | None = None,
    triaged_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """A team takes the item: who owns it, its tags, impact and the outcome it touches."""
    item = await _for_update(store, ref, expected_version, actor)
    owner = await load_team(store, team)
    actor.check_acts_for_team(owner.id, owner.slug)
    if outcome_id is not None:
        await load_outcome(store, outcome_id)
    item.triage(
        team_id=owner.id,
        tags=normalize_tags(tags),
        impact=impact,
        outcome_id=outcome_id,
        triaged_at=as_utc(triaged_at, "triaged_at"),
    )
    return written(item, await save(store, item), key=item.key)


async def mark_duplicate(
    store: EventStore,
    ref: str | UUID,
    *,
    original: str | UUID,
    marked_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """The item repeats another; its demand (and its own duplicates) move to the root item.

    The actor must act for the item's team; the original may be anyone's.

    Raises `DuplicateCycle` when the original is (a duplicate of) this item.
    """
    item = await _for_update(store, ref, expected_version, actor)
    root = await load_root(store, await load_feedback(store, original))
    if root.id == item.id:
        raise DuplicateCycle(f"{item.key} cannot duplicate an item that duplicates it")
    when = as_utc(marked_at, "marked_at")
    moved_demand = item.demand
    moved_ids = (item.id, *item.duplicate_ids)
    earlier_duplicates = [
        await load(store, Feedback, d, FeedbackNotFound) for d in item.duplicate_ids
    ]
    item.mark_duplicate(original_id=root.id, marked_at=when)
    root.merge_demand(duplicate_ids=moved_ids, demand=moved_demand, merged_at=when)
    for duplicate in earlier_duplicates:
        duplicate.repoint_duplicate(original_id=root.id, repointed_at=when)
    position = await save(store, item, root, *earlier_duplicates)
    return written(item, position, key=item.key)


async def plan_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    decision: str | UUID,
    planned_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Plan a triaged item under an accepted decision (linking it to the decision)."""
    item = await _for_update(store, ref, expected_version, actor)
    chosen = await load_decision(store, decision)
    check_may_link(actor, chosen, item)
    if chosen.status not in IN_BACKLOG:
        raise InvalidTransition(f"decision {chosen.key}", chosen.status, "plan feedback under")
    when = as_utc(planned_at, "planned_at")
    item.plan(decision_id=chosen.id, planned_at=when)
    if item.id not in chosen.feedback_ids:
        chosen.link_feedback(feedback_ids=(item.id,), linked_at=when)
    return written(item, await save(store, item, chosen), key=item.key)


async def decline_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    reason: str,
    declined_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """We will not act on the item, for the given reason."""
    item = await _for_update(store, ref, expected_version, actor)
    item.decline(reason=reason, decision_id=None, declined_at=as_utc(declined_at, "declined_at"))
    return written(item, await save(store, item), key=item.key)


async def defer_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    until: date,
    reason: str | None = None,
    deferred_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Put the item aside until a date; after it, the item is due for triage again."""
    item = await _for_update(store, ref, expected_version, actor)
    item.defer(until=until, reason=reason, deferred_at=as_utc(deferred_at, "deferred_at"))
    return written(item, await save(store, item), key=item.key)


async def reopen_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    reason: str,
    reopened_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """The customer says it is not fixed (or a declined item deserves another look)."""
    item = await _for_update(store, ref, expected_version, actor)
    item.reopen(reason=reason, reopened_at=as_utc(reopened_at, "reopened_at"))
    return written(item, await save(store, item), key=item.key)


async def close_feedback_loop(
    store: EventStore,
    ref: str | UUID,
    *,
    how: str,
    note: str | None = None,
    closed_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """The customer was told what became of what they said, and how (email, call, …)."""
    item = await _for_update(store, ref, expected_version, actor)
    item.close_loop(how=how.strip().lower(), note=note, closed_at=as_utc(closed_at, "closed_at"))
    return written(item, await save(store, item), key=item.key)


async def follow_up_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    how: str,
    note: str | None = None,
    followed_up_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Someone contacted the customer about what they said, and how (call, email, …), in
    any status: a detractor is called back before anything ships."""
    item = await _for_update(store, ref, expected_version, actor)
    item.follow_up(
        how=how.strip().lower(),
        note=note,
        followed_up_at=as_utc(followed_up_at, "followed_up_at"),
    )
    return written(item, await save(store, item), key=item.key)


async def edit_feedback_text(
    store: EventStore,
    ref: str | UUID,
    *,
    text: str,
    edited_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Correct the item's text (the earlier text stays in its history)."""
    item = await _for_update(store, ref, expected_version, actor)
    item.edit_text(text=text, edited_at=as_utc(edited_at, "edited_at"))
    return written(item, await save(store, item), key=item.key)


async def retag_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    tags: Sequence[str],
    retagged_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Replace the item's tags."""
    item = await _for_update(store, ref, expected_version, actor)
    item.retag(tags=normalize_tags(tags), retagged_at=as_utc(retagged_at, "retagged_at"))
    return written(item, await save(store, item), key=item.key)


async def undo_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    before_version: int | None = None,
    corrected_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Return the item to its state before `before_version` (default: before its last
    change) with one correction event that names the versions it cancels.

    When the correction takes back the item's marking as a duplicate, its demand (and its
    own duplicates) return to it from the item that absorbed them. When it takes the item
    off an open decision (undoing its plan), the decision no longer answers it; when it puts
    the item back under one, the decision answers it again.
    """
    item = await _for_update(store, ref, expected_version, actor)
    was_duplicate_of = item.duplicate_of if item.status == FeedbackStatus.DUPLICATE else None
    was_under = item.decision_id
    when = as_utc(corrected_at, "corrected_at")
    item.undo(before_version=before_version, corrected_at=when)
    changed: list[Feedback | Decision] = [item]
    if item.decision_id != was_under:
        changed.extend(await _relink(store, item, was_under, when))
    if was_duplicate_of is not None and item.status != FeedbackStatus.DUPLICATE:
        root = await load_root(
            store, await load(store, Feedback, was_duplicate_of, FeedbackNotFound)
        )
        moved = (item.id, *item.duplicate_ids)
        root.return_demand(duplicate_ids=moved, demand=item.demand, returned_at=when)
        changed.append(root)
        for duplicate_id in item.duplicate_ids:
            duplicate = await load(store, Feedback, duplicate_id, FeedbackNotFound)
            duplicate.repoint_duplicate(original_id=item.id, repointed_at=when)
            changed.append(duplicate)
    return written(item, await save(store, *changed), key=item.key)


async def _relink(
    store: EventStore, item: Feedback, was_under: UUID | None, when: datetime
) -> list[Decision]:
    """The open decisions whose links follow the item's corrected decision."""
    changed: list[Decision] = []
    if was_under is not None:
        left = await load(store, Decision, was_under, DecisionNotFound)
        if left.status in OPEN_DECISIONS and item.id in left.feedback_ids:
            left.unlink_feedback(feedback_ids=(item.id,), unlinked_at=when)
            changed.append(left)
    if item.decision_id is not None:
        back = await load(store, Decision, item.decision_id, DecisionNotFound)
        if back.status in OPEN_DECISIONS and item.id not in back.feedback_ids:
            back.link_feedback(feedback_ids=(item.id,), linked_at=when)
            changed.append(back)
    return changed
