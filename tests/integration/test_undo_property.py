"""Undo leaves no trace in the numbers: for any sequence of feedback commands with undos
mixed in, every lead-time figure and every item row equals the one for the same sequence
without the undone commands (issue 14, part 2).

Undo works like the terminal UI's: it takes back the most recent command not yet undone.
Both runs share one database and keep apart by touchpoint, which the metrics filter on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import services as s
from domain.errors import DomainError
from infra.database import Connection
from infra.eventstore import PostgresEventStore
from projections.catalog import all_projections
from projections.metrics import GROUPINGS, MEASURES, lead_times
from projections.queries import list_feedback
from projections.runner import ProjectionRunner

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=60)
ITEMS = 4

Op = tuple[str, int, int]
"""(command, item, other item or customer); command "undo" takes back the last one."""

COMMANDS = ["receive", "triage", "decline", "defer", "reopen", "duplicate", "close"]

# Each run starts with two items received; about one step in three is an undo.
ops = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(COMMANDS), st.just("undo")),
        st.integers(0, ITEMS - 1),
        st.integers(0, ITEMS - 1),
    ),
    max_size=14,
).map(lambda rest: [("receive", 0, 0), ("receive", 0, 1), *rest])


async def project(database_url: str, store: PostgresEventStore) -> None:
    runner = ProjectionRunner(
        database_url,
        store.recorder,
        store.mapper,
        all_projections(),
        batch_size=500,
        poll_interval=0.05,
        lease_retry=0.05,
    )
    await runner.catch_up()


class Run:
    """One run of the commands on its own touchpoint; `undoing` sends its undos."""

    def __init__(self, store: PostgresEventStore, team: str, undoing: bool) -> None:
        self.store = store
        self.team = team
        self.undoing = undoing
        self.touchpoint = f"tp-{uuid4().hex[:12]}"
        self.items: list[UUID] = []
        self.done: list[tuple[UUID, int]] = []  # (item, version its command made): the stack

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
        return await s.close_feedback_loop(store, item, how="email", closed_at=at)

    async def numbers(self, conn: Connection) -> dict[str, Any]:
        """Every lead-time figure of this run's touchpoint, and every item row."""
        figures: dict[str, Any] = {}
        for measure in MEASURES:
            # Grouped by touchpoint, the two runs differ by name only.
            for group_by in (None, *(g for g in GROUPINGS if g != "touchpoint")):
                answer = await lead_times(
                    conn, measure, touchpoint=self.touchpoint, group_by=group_by, now=NOW
                )
                figures[f"{measure}/{group_by}"] = answer.groups
        page = await list_feedback(conn, touchpoint=self.touchpoint, limit=100)
        index = {item: n for n, item in enumerate(self.items)}
        rows = sorted(
            (
                index[r.id],
                r.status,
                r.team,
                tuple(r.tags),
                r.impact,
                r.deferred_until,
                r.reason,
                None if r.duplicate_of is None else index[r.duplicate_of],
                r.duplicates,
                r.demand,
                tuple(sorted(r.customers)),
                r.earliest_received_at,
                r.triaged_at,
                r.decided_at,
                r.shipped_at,
                r.closed_at,
            )
            for r in page.items
        )
        return {"figures": figures, "rows": rows}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops)
async def test_undone_commands_count_as_never_made(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool, ops: list[Op]
) -> None:
    team = f"team-{uuid4().hex[:10]}"
    await s.form_team(event_store, slug=team, name=team, formed_at=T0 - timedelta(days=1))
    # The commands with their undos,
    undone = Run(event_store, team, undoing=True)
    received = [step for step, op in enumerate(ops) if op[0] == "receive"]
    made: list[int] = []  # the steps whose command changed an item and is not undone
    for step, op in enumerate(ops):
        before = len(undone.done)
        await undone.apply(step, op)
        if len(undone.done) < before:
            made.pop()
        elif len(undone.done) > before:
            made.append(step)
    # and the commands that took effect at the same times, minus the undone ones. (A
    # command refused while an undone one was in force is left out of both.)
    never = Run(event_store, team, undoing=False)
    for step in sorted([*received, *made]):
        await never.apply(step, ops[step])
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        assert await undone.numbers(conn) == await never.numbers(conn)
