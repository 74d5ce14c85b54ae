from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from eventsourcing.domain import CanMutateAggregate

from domain import services as s
from domain.decision import Decision, DecisionNotFound
from domain.feedback import Feedback, FeedbackNotFound
from domain.memory import InMemoryEventStore
from tests.unit.domain.times import day


def _event_classes(aggregate: type) -> list[type]:
    """The aggregate's own events (not the library's base classes)."""
    return [
        value
        for name, value in vars(aggregate).items()
        if isinstance(value, type)
        and issubclass(value, CanMutateAggregate)
        and name not in ("Event", "Created", "Snapshot")
    ]


@pytest.mark.parametrize("aggregate", [Feedback, Decision])
def test_every_event_says_when_it_happened_in_one_field(aggregate: type) -> None:
    # `as_of` reads the world's time from the one `*_at` field of each event.
    for cls in _event_classes(aggregate):
        fields = [f.name for f in dataclasses.fields(cls) if f.name.endswith("_at")]
        assert len(fields) == 1, (cls.__qualname__, fields)


async def test_as_of_uses_when_things_happened_known_at_when_they_were_recorded(
    store: InMemoryEventStore,
) -> None:
    await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    before_anything = datetime.now(UTC)

    # History is imported today: received on day 1, triaged on day 3, declined on day 5.
    await s.receive_feedback(store, channel="email", text="Invoices", received_at=day(1))
    await s.triage_feedback(store, "FB-1", team="billing", triaged_at=day(3))
    triage_known = datetime.now(UTC)
    await s.decline_feedback(store, "FB-1", reason="not for us", declined_at=day(5))

    # As of a time in the world, the item is as it stood then,
    assert (await s.get_feedback(store, "FB-1", as_of=day(2))).status == "new"
    assert (await s.get_feedback(store, "FB-1", as_of=day(4))).status == "triaged"
    assert (await s.get_feedback(store, "FB-1", as_of=day(6))).status == "declined"
    # and before it was received it did not exist: the answer names its key.
    with pytest.raises(FeedbackNotFound, match="FB-1 did not exist yet"):
        await s.get_feedback(store, "FB-1", as_of=day(0))

    # Known at a time, the item is what Loopline had recorded by then.
    assert (await s.get_feedback(store, "FB-1", known_at=triage_known)).status == "triaged"
    with pytest.raises(FeedbackNotFound, match="FB-1 did not exist yet"):
        await s.get_feedback(store, "FB-1", known_at=before_anything)


async def test_as_of_leaves_out_cancelled_changes_known_at_keeps_them(
    store: InMemoryEventStore,
) -> None:
    await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    await s.receive_feedback(store, channel="email", text="Invoices", received_at=day(1))
    await s.triage_feedback(store, "FB-1", team="billing", triaged_at=day(3))
    triage_known = datetime.now(UTC)

    # The triage was a mistake and is undone: in the world it never happened,
    await s.undo_feedback(store, "FB-1", corrected_at=day(4))
    assert (await s.get_feedback(store, "FB-1", as_of=day(3))).status == "new"
    # but Loopline did record it for a while.
    assert (await s.get_feedback(store, "FB-1", known_at=triage_known)).status == "triaged"


async def test_a_decision_as_of_when_it_was_decided(store: InMemoryEventStore) -> None:
    await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    await s.propose_decision(
        store, team="billing", title="Redo invoices", rationale="calls", proposed_at=day(2)
    )
    await s.accept_decision(store, "DEC-1", decided_at=day(4))
    assert (await s.get_decision(store, "DEC-1", as_of=day(3))).status == "proposed"
    assert (await s.get_decision(store, "DEC-1", as_of=day(5))).status == "accepted"
    with pytest.raises(DecisionNotFound, match="DEC-1 did not exist yet"):
        await s.get_decision(store, "DEC-1", as_of=day(1))
