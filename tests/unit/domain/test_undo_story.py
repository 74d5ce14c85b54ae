from __future__ import annotations

import pytest

from domain import services as s
from domain.feedback import CannotUndo
from domain.memory import InMemoryEventStore
from tests.unit.domain.times import day


async def _item(store: InMemoryEventStore, customer: str = "cust-1") -> str:
    received = await s.receive_feedback(
        store,
        channel="email",
        text="Invoices are confusing",
        customer_ref=customer,
        received_at=day(1),
    )
    assert received.key is not None
    return received.key


async def _events(store: InMemoryEventStore, key: str) -> list[str]:
    item = await s.get_feedback(store, key)
    return [type(e).__name__ for e in await store.get_events(item.id)]


async def test_undoing_a_triage_records_a_correction_not_a_decline(
    store: InMemoryEventStore,
) -> None:
    await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    key = await _item(store)

    # The billing team triages the item, then takes it back.
    await s.triage_feedback(store, key, team="billing", tags=["invoices"], triaged_at=day(2))
    undone = await s.undo_feedback(store, key, expected_version=2, corrected_at=day(3))

    # The item is new again, with no team, and its history shows one correction.
    item = await s.get_feedback(store, key)
    assert (item.status, item.team_id, item.tags, item.version) == ("new", None, (), 3)
    assert undone.version == 3
    assert await _events(store, key) == ["Received", "Triaged", "Corrected"]
    corrected = (await store.get_events(item.id))[-1]
    assert (corrected.cancels_from, corrected.cancels_to) == (2, 2)  # type: ignore[attr-defined]


async def test_undoing_a_defer_clears_the_deferral(store: InMemoryEventStore) -> None:
    await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    key = await _item(store)
    await s.triage_feedback(store, key, team="billing", triaged_at=day(2))

    # Deferred by mistake, then undone: triaged again, and no deferral date is left.
    await s.defer_feedback(store, key, until=day(30).date(), deferred_at=day(3))
    await s.undo_feedback(store, key, corrected_at=day(4))
    item = await s.get_feedback(store, key)
    assert (item.status, item.deferred_until, item.reason) == ("triaged", None, None)


async def test_undo_before_a_version_cancels_it_and_everything_after(
    store: InMemoryEventStore,
) -> None:
    await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    key = await _item(store)
    await s.triage_feedback(store, key, team="billing", triaged_at=day(2))
    await s.decline_feedback(store, key, reason="not for us", declined_at=day(3))

    # Undo back to before the triage (version 2): the decline goes too.
    await s.undo_feedback(store, key, before_version=2, corrected_at=day(4))
    item = await s.get_feedback(store, key)
    assert (item.status, item.team_id, item.reason) == ("new", None, None)

    # Undoing that correction brings the decline back (undo of an undo).
    await s.undo_feedback(store, key, corrected_at=day(5))
    assert (await s.get_feedback(store, key)).status == "declined"


async def test_undo_checks_the_expected_version_and_refuses_the_receipt(
    store: InMemoryEventStore,
) -> None:
    key = await _item(store)
    with pytest.raises(CannotUndo, match="receipt"):
        await s.undo_feedback(store, key)
    with pytest.raises(CannotUndo, match="no version 7"):
        await s.undo_feedback(store, key, before_version=7)


async def test_undoing_a_duplicate_marking_moves_the_demand_back(
    store: InMemoryEventStore,
) -> None:
    original = await _item(store, "cust-1")
    duplicate = await _item(store, "cust-2")
    earlier = await _item(store, "cust-3")

    # FB-3 duplicates FB-2, then FB-2 duplicates FB-1: FB-1 carries all three asks.
    await s.mark_duplicate(store, earlier, original=duplicate, marked_at=day(2))
    await s.mark_duplicate(store, duplicate, original=original, marked_at=day(3))
    assert len((await s.get_feedback(store, original)).demand) == 3

    # The original cannot undo the arrival of that demand on its own.
    with pytest.raises(CannotUndo, match="another"):
        await s.undo_feedback(store, original, before_version=2)

    # Undoing FB-2's marking returns its demand (and FB-3's) to it.
    await s.undo_feedback(store, duplicate, corrected_at=day(4))
    root = await s.get_feedback(store, original)
    item = await s.get_feedback(store, duplicate)
    assert [d.customer_ref for d in root.demand] == ["cust-1"]
    assert root.duplicate_ids == ()
    assert item.status == "new"
    assert sorted(d.customer_ref or "" for d in item.demand) == ["cust-2", "cust-3"]
    assert (await s.get_feedback(store, earlier)).duplicate_of == item.id
    assert (await _events(store, original))[-1] == "DemandReturned"


async def test_undoing_a_plan_takes_the_item_off_the_decision(store: InMemoryEventStore) -> None:
    await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    key = await _item(store)
    await s.triage_feedback(store, key, team="billing", triaged_at=day(2))
    await s.propose_decision(
        store, team="billing", title="Clearer invoices", rationale="calls", proposed_at=day(2)
    )
    await s.accept_decision(store, "DEC-1", decided_at=day(3))

    # Planned under DEC-1 by mistake, then undone: the decision no longer answers it.
    await s.plan_feedback(store, key, decision="DEC-1", planned_at=day(4))
    item = await s.get_feedback(store, key)
    assert item.id in (await s.get_decision(store, "DEC-1")).feedback_ids
    await s.undo_feedback(store, key, corrected_at=day(5))
    assert (await s.get_feedback(store, key)).status == "triaged"
    assert item.id not in (await s.get_decision(store, "DEC-1")).feedback_ids

    # Undoing that undo plans it again, and the decision answers it again.
    await s.undo_feedback(store, key, corrected_at=day(6))
    assert (await s.get_feedback(store, key)).status == "planned"
    assert item.id in (await s.get_decision(store, "DEC-1")).feedback_ids
