"""Runs of feedback commands with undos mixed in, and the same commands without the undone
ones: the two sides of the undo property tests (unit: item states; integration: every
lead-time figure and item row).

Undo works like the terminal UI's: it takes back the most recent command not yet undone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import strategies as st

from domain import services as s
from domain.errors import DomainError
from domain.ports import EventStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ITEMS = 4

Op = tuple[str, int, int]
"""(command, item, other item or customer); command "undo" takes back the last one."""

COMMANDS = [
    "receive",
    "triage",
    "decline",
    "defer",
    "reopen",
    "duplicate",
    "close",
    "follow_up",
    "plan",
    "ship",
]

# Each run starts with two items received; about half the steps are undos.
ops = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(COMMANDS), st.just("undo")),
        st.integers(0, ITEMS - 1),
        st.integers(0, ITEMS - 1),
    ),
    max_size=14,
).map(lambda rest: [("receive", 0, 0), ("receive", 0, 1), *rest])


class Run:
    """One run of the commands on its own touchpoint; `undoing` sends its undos."""

    def __init__(self, store: EventStore, team: str, undoing: bool) -> None:
        self.store = store
        self.team = team
        self.undoing = undoing
        self.touchpoint = f"tp-{uuid4().hex[:12]}"
        self.items: list[UUID] = []
        self.done: list[tuple[UUID, int]] = []  # (item, version its command made): the stack
        self.decision: UUID | None = None

    async def start(self) -> None:
        """An accepted decision of the run's own, to plan items under."""
        proposed = await s.propose_decision(
            self.store, team=self.team, title="t", rationale="r", proposed_at=T0
        )
        await s.accept_decision(self.store, proposed.id, decided_at=T0)
        self.decision = proposed.id

    def item(self, i: int) -> UUID | None:
        return self.items[i % len(self.items)] if self.items else None

    async def apply(self, step: int, op: Op) -> None:
        """Run command `op` at hour `step`; a command the domain refuses changes nothing."""
        name, i, j = op
        at = T0 + timedelta(hours=step)
        if name == "undo":
            if self.undoing and self.done:
                item, version = self.done.pop()
                await s.undo_feedback(self.store, item, before_version=version, corrected_at=at)
            return
        if name == "receive":
            if len(self.items) < ITEMS:
                received = await s.receive_feedback(
                    self.store,
                    channel="email",
                    touchpoint=self.touchpoint,
                    text="text",
                    customer_ref=f"c{j % 2}",
                    received_at=at,
                )
                self.items.append(received.id)
            return
        picked, other = self.item(i), self.item(j)
        if picked is None or other is None:
            return
        try:
            written = await self._command(name, picked, other, at)
        except DomainError:
            return
        self.done.append((picked, written.version))

    async def _command(self, name: str, item: UUID, other: UUID, at: datetime) -> s.Written:
        store = self.store
        if name == "triage":
            return await s.triage_feedback(store, item, team=self.team, triaged_at=at)
        if name == "decline":
            return await s.decline_feedback(store, item, reason="no", declined_at=at)
        if name == "defer":
            until = (at + timedelta(days=10)).date()
            return await s.defer_feedback(store, item, until=until, deferred_at=at)
        if name == "reopen":
            return await s.reopen_feedback(store, item, reason="again", reopened_at=at)
        if name == "duplicate":
            return await s.mark_duplicate(store, item, original=other, marked_at=at)
        if name == "plan" and self.decision is not None:
            return await s.plan_feedback(store, item, decision=self.decision, planned_at=at)
        if name == "ship":
            # A production deployment naming the item ships it (the item's own change).
            shipped = await s.get_feedback(store, item)
            if shipped.duplicate_of is not None:
                raise DomainError("a duplicate ships through its original")
            before = shipped.version
            await s.record_increment(
                store,
                service=f"svc-{self.touchpoint}",
                environment="production",
                release_version=at.isoformat(),
                started_at=at,
                finished_at=at,
                texts=[f"fixes {shipped.key}"],
            )
            after = await s.get_feedback(store, item)
            if after.version == before:
                raise DomainError("not shippable now")
            return s.Written(id=item, version=after.version, position=None)
        if name == "follow_up":
            return await s.follow_up_feedback(store, item, how="call", followed_up_at=at)
        return await s.close_feedback_loop(store, item, how="email", closed_at=at)


async def run_both(store: EventStore, team: str, ops: list[Op]) -> tuple[Run, Run]:
    """The commands with their undos, and the commands that took effect at the same times
    minus the undone ones. (A command refused while an undone one was in force is left out
    of both.)"""
    undone = Run(store, team, undoing=True)
    await undone.start()
    received = [step for step, op in enumerate(ops) if op[0] == "receive"]
    made: list[int] = []  # the steps whose command changed an item and is not undone
    for step, op in enumerate(ops):
        before = len(undone.done)
        await undone.apply(step, op)
        if len(undone.done) < before:
            made.pop()
        elif len(undone.done) > before:
            made.append(step)
    never = Run(store, team, undoing=False)
    await never.start()
    for step in sorted([*received, *made]):
        await never.apply(step, ops[step])
    return undone, never
