"""The domain's rules for who may act, checked by the services after their one load."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import CanMutateAggregate

from domain import services as s
from domain.access import Actor, NotPermitted, Role
from domain.memory import InMemoryEventStore
from tests.unit.domain.times import day


class CountingStore(InMemoryEventStore):
    """Counts how often each aggregate's events are read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[UUID] = Counter()

    async def get_events(
        self,
        originator_id: UUID,
        *,
        lte_version: int | None = None,
        known_at: datetime | None = None,
    ) -> Sequence[CanMutateAggregate[Any]]:
        self.reads[originator_id] += 1
        return await super().get_events(originator_id, lte_version=lte_version, known_at=known_at)


async def test_a_triage_by_key_loads_the_item_once() -> None:
    store = CountingStore()
    team = await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    item = await s.receive_feedback(store, channel="chat", text="slow", received_at=day(1))
    member = Actor(role=Role.MEMBER, team_ids=frozenset({team.id}), name="ana")
    store.reads.clear()

    # A member triages the item by its key into its own team.
    written = await s.triage_feedback(store, "FB-1", team="billing", actor=member)

    # The item was read once, and the answer carries the status the triage left.
    assert store.reads[item.id] == 1
    assert written.status == "triaged"


async def test_a_member_acts_only_for_its_teams(store: InMemoryEventStore) -> None:
    billing = await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    await s.form_team(store, slug="support", name="Support", formed_at=day(0))
    member = Actor(role=Role.MEMBER, team_ids=frozenset({billing.id}))
    await s.receive_feedback(store, channel="chat", text="slow", received_at=day(1))
    await s.receive_feedback(store, channel="chat", text="slower", received_at=day(1))
    await s.triage_feedback(store, "FB-2", team="support", triaged_at=day(2))

    # An item no team has taken is open to the member, but not into another team (said
    # as such: it read "team support belongs to a team this token does not act for").
    with pytest.raises(NotPermitted, match=r"^this token does not act for team support$"):
        await s.triage_feedback(store, "FB-1", team="support", actor=member)
    # Another team's item is not the member's to decline...
    with pytest.raises(NotPermitted):
        await s.decline_feedback(store, "FB-2", reason="no", actor=member)
    # ...but the member may mark its own item as a duplicate of it.
    await s.triage_feedback(store, "FB-1", team="billing", triaged_at=day(2), actor=member)
    marked = await s.mark_duplicate(store, "FB-1", original="FB-2", actor=member)
    assert marked.status == "duplicate"
