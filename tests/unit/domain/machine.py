"""A Hypothesis state machine over feedback, decision and increment commands.

It runs the application services against any `EventStore` (the in-memory one in unit tests,
PostgreSQL in integration tests) and checks the backlog's invariants after every step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import BaseAggregate, CanMutateAggregate
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain import decision as dec
from domain import feedback as fb
from domain import services as s
from domain.errors import ConcurrencyConflict, DomainError
from domain.increment import Increment, IncrementNotFound
from domain.ports import EventStore, Recording
from domain.services.base import load
from domain.vocabulary import IN_BACKLOG, Channel, DecisionStatus, FeedbackStatus, Impact

T = TypeVar("T")

#: Builds a store inside the machine's event loop; answers it and how to close it.
StoreFactory = Callable[[], Awaitable[tuple[EventStore, Callable[[], Awaitable[None]]]]]


class SavedAggregates:
    """An `EventStore` wrapper remembering each aggregate as it was in memory when saved."""

    def __init__(self, inner: EventStore) -> None:
        self.inner = inner
        self.saved: dict[UUID, BaseAggregate[Any]] = {}

    async def get_events(
        self,
        originator_id: UUID,
        *,
        lte_version: int | None = None,
        known_at: datetime | None = None,
    ) -> Sequence[CanMutateAggregate[Any]]:
        return await self.inner.get_events(
            originator_id, lte_version=lte_version, known_at=known_at
        )

    async def save(self, *aggregates: BaseAggregate[Any]) -> Recording:
        recording = await self.inner.save(*aggregates)
        for aggregate in aggregates:
            self.saved[aggregate.id] = aggregate
        return recording

    async def next_number(self, sequence: str) -> int:
        return await self.inner.next_number(sequence)


def make_machine(store_factory: StoreFactory) -> type[RuleBasedStateMachine]:
    """A machine class whose every run uses a store from `store_factory`."""

    class BacklogMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            inner, self.close_store = self.loop.run_until_complete(store_factory())
            self.store = SavedAggregates(inner)
            # Unique per run, so runs can share one database.
            self.run_id = uuid4().hex[:8]
            self.team = f"team-{self.run_id}"
            self.run(s.form_team(self.store, slug=self.team, name="Team"))
            self.feedback: list[UUID] = []
            self.decisions: list[UUID] = []
            self.increments: list[UUID] = []

        def run(self, coroutine: Awaitable[T]) -> T:
            return self.loop.run_until_complete(coroutine)

        def attempt(self, coroutine: Awaitable[Any]) -> Any:
            """Run a command; a rule of the domain refusing it is fine, a conflict is not."""
            try:
                return self.run(coroutine)
            except ConcurrencyConflict:
                raise
            except DomainError:
                return None

        def teardown(self) -> None:
            try:
                self.run(self.close_store())
            finally:
                self.loop.close()

        # --- commands --------------------------------------------------------------------

        @rule(
            channel=st.sampled_from(list(Channel)),
            customer=st.sampled_from(["c1", "c2", "c3", None]),
            source=st.sampled_from([None, None, "a", "b"]),
        )
        def receive(self, channel: str, customer: str | None, source: str | None) -> None:
            ref = None if source is None else f"{self.run_id}-{source}"
            done = self.run(
                s.receive_feedback(
                    self.store,
                    channel=channel,
                    text="text",
                    customer_ref=customer,
                    external_ref=ref,
                )
            )
            if done.created:
                self.feedback.append(done.id)
            else:
                assert done.id in self.feedback
                assert done.position is None

        @precondition(lambda self: self.feedback)
        @rule(i=st.integers(0, 1000), impact=st.sampled_from([None, *Impact]))
        def triage(self, i: int, impact: str | None) -> None:
            item = self._item(i)
            self.attempt(s.triage_feedback(self.store, item, team=self.team, impact=impact))

        @precondition(lambda self: len(self.feedback) >= 2)
        @rule(i=st.integers(0, 1000), j=st.integers(0, 1000))
        def mark_duplicate(self, i: int, j: int) -> None:
            self.attempt(s.mark_duplicate(self.store, self._item(i), original=self._item(j)))

        @precondition(lambda self: self.feedback)
        @rule(i=st.integers(0, 1000))
        def decline_feedback(self, i: int) -> None:
            self.attempt(s.decline_feedback(self.store, self._item(i), reason="no"))

        @precondition(lambda self: self.feedback)
        @rule(i=st.integers(0, 1000), days=st.integers(1, 30))
        def defer(self, i: int, days: int) -> None:
            until = (datetime.now(UTC) + timedelta(days=days)).date()
            self.attempt(s.defer_feedback(self.store, self._item(i), until=until))

        @precondition(lambda self: self.feedback)
        @rule(i=st.integers(0, 1000))
        def reopen(self, i: int) -> None:
            self.attempt(s.reopen_feedback(self.store, self._item(i), reason="not fixed"))

        @precondition(lambda self: self.feedback)
        @rule(i=st.integers(0, 1000))
        def close_loop(self, i: int) -> None:
            self.attempt(s.close_feedback_loop(self.store, self._item(i), how="email"))

        @precondition(lambda self: self.feedback)
        @rule(i=st.integers(0, 1000))
        def follow_up(self, i: int) -> None:
            self.attempt(s.follow_up_feedback(self.store, self._item(i), how="call"))

        @rule(picks=st.lists(st.integers(0, 1000), max_size=3))
        def propose(self, picks: list[int]) -> None:
            items = [self._item(i) for i in picks] if self.feedback else []
            done = self.attempt(
                s.propose_decision(
                    self.store, team=self.team, title="t", rationale="why", feedback=items
                )
            )
            if done is not None:
                self.decisions.append(done.id)

        @precondition(lambda self: self.decisions)
        @rule(d=st.integers(0, 1000))
        def accept(self, d: int) -> None:
            self.attempt(s.accept_decision(self.store, self._decision(d)))

        @precondition(lambda self: self.decisions)
        @rule(d=st.integers(0, 1000))
        def start(self, d: int) -> None:
            self.attempt(s.start_decision(self.store, self._decision(d)))

        @precondition(lambda self: self.decisions)
        @rule(d=st.integers(0, 1000), rationale=st.sampled_from([None, "changed our mind"]))
        def decline_decision(self, d: int, rationale: str | None) -> None:
            self.attempt(s.decline_decision(self.store, self._decision(d), rationale=rationale))

        @precondition(lambda self: len(self.decisions) >= 2)
        @rule(d=st.integers(0, 1000), e=st.integers(0, 1000))
        def supersede(self, d: int, e: int) -> None:
            self.attempt(s.supersede_decision(self.store, self._decision(d), by=self._decision(e)))

        @precondition(lambda self: self.decisions and self.feedback)
        @rule(d=st.integers(0, 1000), i=st.integers(0, 1000))
        def link(self, d: int, i: int) -> None:
            self.attempt(s.link_feedback(self.store, self._decision(d), feedback=[self._item(i)]))

        @precondition(lambda self: self.decisions and self.feedback)
        @rule(d=st.integers(0, 1000), i=st.integers(0, 1000))
        def unlink(self, d: int, i: int) -> None:
            self.attempt(s.unlink_feedback(self.store, self._decision(d), feedback=[self._item(i)]))

        @precondition(lambda self: self.decisions and self.feedback)
        @rule(d=st.integers(0, 1000), i=st.integers(0, 1000))
        def plan(self, d: int, i: int) -> None:
            self.attempt(s.plan_feedback(self.store, self._item(i), decision=self._decision(d)))

        @rule(
            environment=st.sampled_from(["production", "prod", "staging"]),
            succeeded=st.booleans(),
            feedback_picks=st.lists(st.integers(0, 1000), max_size=2),
            decision_picks=st.lists(st.integers(0, 1000), max_size=2),
            run=st.sampled_from([None, None, "r1", "r2"]),
        )
        def record_increment(
            self,
            environment: str,
            succeeded: bool,
            feedback_picks: list[int],
            decision_picks: list[int],
            run: str | None,
        ) -> None:
            keys = [self._key(self._item(i)) for i in feedback_picks if self.feedback]
            keys += [self._key(self._decision(d)) for d in decision_picks if self.decisions]
            done = self.run(
                s.record_increment(
                    self.store,
                    service="web",
                    environment=environment,
                    release_version="1.0",
                    succeeded=succeeded,
                    texts=[" ".join(keys)],
                    external_ref=None if run is None else f"{self.run_id}-{run}",
                )
            )
            if done.created:
                self.increments.append(done.id)
            else:
                assert done.id in self.increments
                assert done.shipped == s.Shipped()

        # --- invariants ------------------------------------------------------------------

        @invariant()
        def demand_is_counted_once_on_its_root(self) -> None:
            items = self._all_feedback()
            owners: dict[UUID, list[UUID]] = {f: [] for f in items}
            for item in items.values():
                if item.status == FeedbackStatus.DUPLICATE:
                    assert item.demand == ()
                    assert item.duplicate_of is not None
                    assert items[item.duplicate_of].status != FeedbackStatus.DUPLICATE
                for demand in item.demand:
                    owners[demand.feedback_id].append(item.id)
            for feedback_id, holders in owners.items():
                assert len(holders) == 1, (feedback_id, holders)

        @invariant()
        def shipped_feedback_has_a_shipped_decision_or_a_direct_reference(self) -> None:
            items = self._all_feedback()
            decisions = self._all_decisions()
            increments = {i: self._load(Increment, i) for i in self.increments}
            for item in items.values():
                if item.status != FeedbackStatus.SHIPPED:
                    continue
                assert item.shipped_by
                keys = {item.key} | {items[d].key for d in item.duplicate_ids}
                direct = any(keys & set(increments[i].feedback_refs) for i in item.shipped_by)
                via_decision = item.decision_id is not None and decisions[
                    item.decision_id
                ].status in (
                    DecisionStatus.ACCEPTED,
                    DecisionStatus.IN_PROGRESS,
                    DecisionStatus.SHIPPED,
                )
                assert direct or via_decision, item

        @invariant()
        def a_declined_decision_leaves_no_feedback_planned(self) -> None:
            decisions = self._all_decisions()
            for item in self._all_feedback().values():
                if item.status == FeedbackStatus.PLANNED:
                    assert item.decision_id is not None
                    assert decisions[item.decision_id].status in IN_BACKLOG

        @invariant()
        def rebuilt_aggregates_equal_the_saved_ones(self) -> None:
            for aggregate_id, saved in self.store.saved.items():
                events = self.run(self.store.get_events(aggregate_id))
                rebuilt: Any = None
                for e in events:
                    rebuilt = e.mutate(rebuilt)
                assert rebuilt == saved

        # --- helpers ---------------------------------------------------------------------

        def _item(self, i: int) -> UUID:
            return self.feedback[i % len(self.feedback)]

        def _decision(self, d: int) -> UUID:
            return self.decisions[d % len(self.decisions)]

        def _key(self, aggregate_id: UUID) -> str:
            saved = self.store.saved[aggregate_id]
            key: str = getattr(saved, "key")  # noqa: B009
            return key

        def _load(self, cls: type[Any], aggregate_id: UUID) -> Any:
            return self.run(load(self.store, cls, aggregate_id, IncrementNotFound))

        def _all_feedback(self) -> dict[UUID, fb.Feedback]:
            return {f: self._load(fb.Feedback, f) for f in self.feedback}

        def _all_decisions(self) -> dict[UUID, dec.Decision]:
            return {d: self._load(dec.Decision, d) for d in self.decisions}

    return BacklogMachine
