"""The demo generator on the in-memory store: reproducible, and every part of the story is in it."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.decision import Decision
from domain.feedback import Feedback
from domain.incident import Incident
from domain.increment import Increment
from domain.memory import InMemoryEventStore
from domain.vocabulary import Channel, DecisionStatus, FeedbackStatus
from loopline.demo import DemoReport, DemoSize, catalog, load_demo

ANCHOR = datetime(2026, 3, 2, 12, tzinfo=UTC)
SMALL = DemoSize(teams=4, feedback=400, increments=120, days=90)


async def generate(seed: int) -> tuple[InMemoryEventStore, DemoReport]:
    store = InMemoryEventStore()
    report = await load_demo(store, seed=seed, size=SMALL, anchor=ANCHOR)
    assert report is not None
    return store, report


def final_states(store: InMemoryEventStore) -> list[Any]:
    """Every aggregate as its events leave it."""
    events: dict[UUID, list[Any]] = defaultdict(list)
    for event in store.all_events():
        events[event.originator_id].append(event)
    aggregates = []
    for history in events.values():
        aggregate = None
        for event in history:
            aggregate = event.mutate(aggregate)
        aggregates.append(aggregate)
    return aggregates


async def test_the_same_seed_gives_the_same_organisation() -> None:
    # Two runs with one seed and one anchor.
    first_store, first = await generate(seed=3)
    second_store, second = await generate(seed=3)

    # Same keys in the same order, same counts, same number of events.
    assert first.keys == second.keys
    assert first.counts == second.counts
    assert len(first_store.all_events()) == len(second_store.all_events())

    # Another seed tells another story.
    _, other = await generate(seed=4)
    assert other.counts != first.counts


async def test_the_demo_holds_every_part_of_the_story() -> None:
    store, report = await generate(seed=1)
    aggregates = final_states(store)
    feedback = [a for a in aggregates if isinstance(a, Feedback)]
    statuses = Counter(f.status for f in feedback)

    # Feedback arrived through every channel, surveys with a score and its why.
    assert {f.channel for f in feedback} == set(Channel)
    surveys = [f for f in feedback if f.channel == "survey"]
    assert surveys
    assert all(f.nps is not None and 0 <= f.nps <= 10 and f.nps_reason for f in surveys)
    assert len({f.nps for f in surveys}) > 5  # detractors, passives and promoters

    # Every way out of the inbox is taken, and some items are still waiting.
    for status in set(FeedbackStatus) - {FeedbackStatus.PLANNED}:
        assert statuses[status] > 0, status
    assert report.counts["reopened"] > 0
    assert len(feedback) == SMALL.feedback == report.counts["feedback"]

    # Decisions were accepted, declined, superseded and shipped.
    decisions = Counter(d.status for d in aggregates if isinstance(d, Decision))
    for outcome in (DecisionStatus.SHIPPED, DecisionStatus.DECLINED, DecisionStatus.SUPERSEDED):
        assert decisions[outcome] > 0, outcome

    # Production deployments failed or were rolled back; incidents opened, tied or not.
    increments = [i for i in aggregates if isinstance(i, Increment)]
    assert any(i.status == "failed" for i in increments)
    assert any(i.status == "rolled_back" for i in increments)
    assert {i.environment for i in increments} == {"production", "staging"}
    incidents = [i for i in aggregates if isinstance(i, Incident)]
    assert incidents
    assert any(i.caused_by_sha for i in incidents)
    assert any(i.caused_by_increment_id for i in incidents)
    assert any(not i.caused_by_sha and not i.caused_by_increment_id for i in incidents)
    assert any(i.status == "resolved" for i in incidents)

    # Shipping happened by the domain's rule: commits name DEC-n and FB-n keys.
    messages = [c.message for i in increments for c in i.commits]
    assert any("DEC-" in m for m in messages)
    assert any("(fixes FB-" in m for m in messages)

    # Nothing happened after the anchor.
    assert all(f.received_at <= ANCHOR for f in feedback)
    assert all(i.finished_at <= ANCHOR for i in increments)


async def test_loading_twice_adds_nothing() -> None:
    store = InMemoryEventStore()
    assert await load_demo(store, seed=1, size=SMALL, anchor=ANCHOR) is not None
    events = len(store.all_events())

    # The second load finds the marker and stops.
    assert await load_demo(store, seed=1, size=SMALL, anchor=ANCHOR) is None
    assert len(store.all_events()) == events


def expected_nps(trend: str | None, progress: float, draws: int = 1000) -> float:
    """The NPS of the score model at `progress`, over evenly spread draws."""
    scores = [catalog.nps_score(trend, progress, (i + 0.5) / draws) for i in range(draws)]
    promoters = sum(s >= 9 for s in scores)
    detractors = sum(s <= 6 for s in scores)
    return 100 * (promoters - detractors) / draws


def test_survey_scores_follow_each_teams_trend() -> None:
    # Improving teams end far above where they started, the declining team far below, and
    # steady teams stay where they are.
    assert expected_nps("improving", 1.0) - expected_nps("improving", 0.0) > 50
    assert expected_nps("declining", 1.0) - expected_nps("declining", 0.0) < -50
    assert expected_nps(None, 0.0) == expected_nps(None, 1.0)
    # The demo's teams: two improve, one declines.
    assert sorted(catalog.NPS_TRENDS.values()) == ["declining", "improving", "improving"]
    assert set(catalog.NPS_TRENDS) <= {t.slug for t in catalog.TEAMS}


def test_most_detractors_say_they_waited() -> None:
    whys = [catalog.nps_why(score, "Ask", (i + 0.5) / 100) for i in range(100) for score in (0, 10)]
    detractors, promoters = whys[::2], whys[1::2]
    assert sum("wait" in w.lower() for w in detractors) >= 50
    assert not any("wait" in w.lower() for w in promoters)
