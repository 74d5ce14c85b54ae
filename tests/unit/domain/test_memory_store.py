from __future__ import annotations

import pytest

from domain.errors import ConcurrencyConflict
from domain.index import TEAM_SLUG, Index
from domain.memory import InMemoryEventStore
from domain.services.base import load
from domain.team import Team, TeamNotFound
from tests.unit.domain.times import day


async def test_positions_start_at_one_and_a_conflict_writes_nothing(
    store: InMemoryEventStore,
) -> None:
    # A team and its slug index are saved together: positions 1 and 2.
    team = Team(slug="ops", name="Ops", formed_at=day(0))
    index = Index(kind=TEAM_SLUG, key="ops", target_id=team.id, registered_at=day(0))
    recording = await store.save(team, index)
    assert recording.positions == (1, 2)
    assert recording.last_position == 2

    # Two writers load the team at version 1 and both rename it.
    first = await load(store, Team, team.id, TeamNotFound)
    second = await load(store, Team, team.id, TeamNotFound)
    first.rename(name="Operations", renamed_at=day(1))
    second.rename(name="Platform", renamed_at=day(1))
    await store.save(first)

    # The second save conflicts, also for the new team saved with it: nothing is written.
    other = Team(slug="web", name="Web", formed_at=day(0))
    with pytest.raises(ConcurrencyConflict) as caught:
        await store.save(other, second)
    assert caught.value.current_version == 2
    assert await store.get_events(other.id) == []
    assert len(store.all_events()) == 3
    assert (await load(store, Team, team.id, TeamNotFound)).name == "Operations"


async def test_two_teams_claiming_one_slug_at_once_conflict(store: InMemoryEventStore) -> None:
    # Two requests both find the slug free and build its index.
    a = Team(slug="data", name="Data A", formed_at=day(0))
    b = Team(slug="data", name="Data B", formed_at=day(0))
    index_a = Index(kind=TEAM_SLUG, key="data", target_id=a.id, registered_at=day(0))
    index_b = Index(kind=TEAM_SLUG, key="data", target_id=b.id, registered_at=day(0))
    assert index_a.id == index_b.id

    # The first save wins; the second fails as a conflict and its team is not stored.
    await store.save(a, index_a)
    with pytest.raises(ConcurrencyConflict):
        await store.save(b, index_b)
    assert await store.get_events(b.id) == []


async def test_counters_never_repeat(store: InMemoryEventStore) -> None:
    numbers = [await store.next_number("FB") for _ in range(3)]
    assert numbers == [1, 2, 3]
    assert await store.next_number("DEC") == 1
