"""Loading feedback and decisions by id or human key, following duplicates to their root."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.access import Actor
from domain.decision import Decision, DecisionNotFound
from domain.feedback import Feedback, FeedbackNotFound
from domain.keys import DECISION_PREFIX, FEEDBACK_PREFIX
from domain.ports import EventStore
from domain.services.base import load, resolve_ref
from domain.vocabulary import FeedbackStatus

#: A chain longer than this means the stored duplicate links are broken.
MAX_DUPLICATE_HOPS = 100


async def resolve_feedback(store: EventStore, ref: str | UUID) -> UUID:
    """The id of the feedback item with that id or `FB-<n>` key; raises `FeedbackNotFound`."""
    return await resolve_ref(store, ref, FEEDBACK_PREFIX, FeedbackNotFound)


async def resolve_decision(store: EventStore, ref: str | UUID) -> UUID:
    """The id of the decision with that id or `DEC-<n>` key; raises `DecisionNotFound`."""
    return await resolve_ref(store, ref, DECISION_PREFIX, DecisionNotFound)


async def load_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> Feedback:
    """The feedback item (as it stood in the world at `as_of`, as known at `known_at`);
    raises `FeedbackNotFound`, naming its key when it did not exist yet then."""
    feedback_id = await resolve_feedback(store, ref)
    try:
        return await load(
            store, Feedback, feedback_id, FeedbackNotFound, as_of=as_of, known_at=known_at
        )
    except FeedbackNotFound:
        if as_of is None and known_at is None:
            raise
        item = await load(store, Feedback, feedback_id, FeedbackNotFound)
        raise FeedbackNotFound(_not_yet(item.key, as_of, known_at)) from None


async def load_decision(
    store: EventStore,
    ref: str | UUID,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> Decision:
    """The decision (as it stood in the world at `as_of`, as known at `known_at`); raises
    `DecisionNotFound`, naming its key when it did not exist yet then."""
    decision_id = await resolve_decision(store, ref)
    try:
        return await load(
            store, Decision, decision_id, DecisionNotFound, as_of=as_of, known_at=known_at
        )
    except DecisionNotFound:
        if as_of is None and known_at is None:
            raise
        decision = await load(store, Decision, decision_id, DecisionNotFound)
        raise DecisionNotFound(_not_yet(decision.key, as_of, known_at)) from None


def _not_yet(key: str, as_of: datetime | None, known_at: datetime | None) -> str:
    when = [f"as of {as_of.isoformat()}"] if as_of is not None else []
    when += [f"known at {known_at.isoformat()}"] if known_at is not None else []
    return f"{key} did not exist yet ({', '.join(when)})"


async def load_root(store: EventStore, feedback: Feedback) -> Feedback:
    """The item that `feedback` is (transitively) a duplicate of, or `feedback` itself."""
    item = feedback
    for _ in range(MAX_DUPLICATE_HOPS):
        if item.status != FeedbackStatus.DUPLICATE or item.duplicate_of is None:
            return item
        item = await load(store, Feedback, item.duplicate_of, FeedbackNotFound)
    raise FeedbackNotFound(f"the duplicate chain of {feedback.key} does not end")


def check_may_link(actor: Actor, decision: Decision, item: Feedback) -> None:
    """Linking an item to a decision (or planning it under one) needs acting for both."""
    actor.check_team(decision.team_id, what=f"decision {decision.key}")
    actor.check_team(item.team_id, what=f"feedback {item.key}")


class Loaded:
    """Aggregates loaded during one command, so each is loaded (and saved) once."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.feedback: dict[UUID, Feedback] = {}
        self.decisions: dict[UUID, Decision] = {}

    def add(self, *items: Feedback | Decision) -> None:
        for item in items:
            if isinstance(item, Feedback):
                self.feedback[item.id] = item
            else:
                self.decisions[item.id] = item

    async def get_feedback(self, feedback_id: UUID) -> Feedback:
        if feedback_id not in self.feedback:
            self.feedback[feedback_id] = await load(
                self.store, Feedback, feedback_id, FeedbackNotFound
            )
        return self.feedback[feedback_id]

    async def get_decision(self, decision_id: UUID) -> Decision:
        if decision_id not in self.decisions:
            self.decisions[decision_id] = await load(
                self.store, Decision, decision_id, DecisionNotFound
            )
        return self.decisions[decision_id]

    def all(self) -> list[Feedback | Decision]:
        return [*self.decisions.values(), *self.feedback.values()]
