from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import services as s
from domain.errors import ConcurrencyConflict, InvalidTransition, ValidationError
from domain.feedback import DuplicateCycle, FeedbackNotFound
from domain.increment import Commit
from domain.memory import InMemoryEventStore
from domain.vocabulary import Channel
from tests.unit.domain.times import day


async def _team(store: InMemoryEventStore, slug: str = "billing") -> None:
    await s.form_team(store, slug=slug, name=slug.title(), formed_at=day(0))


async def test_feedback_from_receipt_to_closed_loop(store: InMemoryEventStore) -> None:
    await _team(store)

    # A detractor tells us by survey that invoices are confusing.
    received = await s.receive_feedback(
        store,
        channel="survey",
        touchpoint="billing",
        text="I never understand my invoice",
        customer_ref="cust-17",
        segment="smb",
        nps=3,
        nps_reason="invoices are confusing",
        external_ref="survey-991",
        received_at=day(1),
    )
    assert received.key == "FB-1"
    assert received.created

    # The billing team triages it.
    await s.triage_feedback(
        store, "FB-1", team="billing", tags=["Invoices", "ux"], impact="high", triaged_at=day(2)
    )

    # A decision that answers it is proposed and accepted: the item becomes planned.
    decision = await s.propose_decision(
        store,
        team="billing",
        title="Redesign the invoice",
        rationale="Most billing calls are about reading the invoice",
        options=("redesign", "add a help page"),
        feedback=["fb-1"],
        proposed_at=day(3),
    )
    assert decision.key == "DEC-1"
    await s.accept_decision(store, "DEC-1", decided_by="pm-ana", decided_at=day(4))
    assert (await s.get_feedback(store, "FB-1")).status == "planned"

    # A production deployment carrying a commit that ships DEC-1 marks both shipped.
    recorded = await s.record_increment(
        store,
        service="acme/billing-api",
        environment="production",
        commit_sha="abc1234",
        started_at=day(10),
        finished_at=day(10) + timedelta(minutes=7),
        commits=[Commit("abc1234", day(9), "New invoice layout (ships dec-1)")],
    )
    assert recorded.decision_refs == ("DEC-1",)
    assert recorded.shipped == s.Shipped(decisions=("DEC-1",), feedback=("FB-1",))
    item = await s.get_feedback(store, received.id)
    assert item.status == "shipped"
    assert item.shipped_by == (recorded.id,)
    assert item.shipped_at == day(10) + timedelta(minutes=7)
    assert (await s.get_decision(store, decision.id)).status == "shipped"

    # Support tells the customer: the loop is closed.
    await s.close_feedback_loop(store, "FB-1", how="email", closed_at=day(11))
    assert (await s.get_feedback(store, "FB-1")).status == "closed"

    # The customer says it is not fixed: the item is back in the triage inbox.
    await s.reopen_feedback(store, "FB-1", reason="still confusing", reopened_at=day(12))
    item = await s.get_feedback(store, "FB-1")
    assert item.status == "new"
    assert item.team_id is not None
    assert item.decision_id is None

    # Its text is corrected; the earlier text stays in the history.
    before_edit = datetime.now(UTC)
    await s.edit_feedback_text(store, "FB-1", text="I never understand my invoice totals")
    assert (await s.get_feedback(store, "FB-1")).text.endswith("totals")
    as_it_was = await s.get_feedback(store, "FB-1", as_of=before_edit)
    assert as_it_was.text == "I never understand my invoice"


async def test_side_exits_decline_defer_and_their_wrong_turns(store: InMemoryEventStore) -> None:
    await _team(store)
    first = await s.receive_feedback(store, channel="chat", text="Dark mode please")
    second = await s.receive_feedback(store, channel="web", text="Export to CSV")

    # An item is deferred until a later date, then triaged again.
    await s.defer_feedback(store, first.id, until=day(90).date(), reason="after the migration")
    assert (await s.get_feedback(store, first.id)).deferred_until == day(90).date()
    await s.triage_feedback(store, first.id, team="billing")

    # Another is declined with a reason; it cannot be triaged any more...
    await s.decline_feedback(store, second.key or "", reason="out of scope")
    with pytest.raises(InvalidTransition) as caught:
        await s.triage_feedback(store, second.id, team="billing")
    assert caught.value.state == "declined"
    assert caught.value.action == "triage"
    assert "declined" in str(caught.value)
    assert "triage" in str(caught.value)

    # ...but the customer's answer to the decline can close the loop.
    await s.close_feedback_loop(store, second.id, how="chat")

    # A new item cannot be planned (it must be triaged first) nor have its loop closed.
    third = await s.receive_feedback(store, channel="email", text="Invoices in French")
    decision = await s.propose_decision(store, team="billing", title="t", rationale="r")
    await s.accept_decision(store, decision.id)
    with pytest.raises(InvalidTransition, match="it is new"):
        await s.plan_feedback(store, third.id, decision=decision.id)
    with pytest.raises(InvalidTransition, match="close the loop"):
        await s.close_feedback_loop(store, third.id, how="email")


async def test_receive_validates_its_input(store: InMemoryEventStore) -> None:
    # NPS lies within 0-10.
    for score in (-1, 11):
        with pytest.raises(ValidationError) as caught:
            await s.receive_feedback(store, channel="survey", text="meh", nps=score)
        assert caught.value.field == "nps"
    for score in (0, 10):
        await s.receive_feedback(store, channel="survey", text="ok", nps=score)

    # A why without a score is refused.
    with pytest.raises(ValidationError, match="nps_reason"):
        await s.receive_feedback(store, channel="survey", text="meh", nps_reason="because")

    # Channels come from a fixed set.
    assert "fax" not in set(Channel)
    with pytest.raises(ValidationError, match="channel"):
        await s.receive_feedback(store, channel="fax", text="hello")

    # Times far in the future are refused; naive times too.
    with pytest.raises(ValidationError, match="future"):
        await s.receive_feedback(
            store, channel="web", text="hi", received_at=datetime.now(UTC) + timedelta(days=1)
        )
    with pytest.raises(ValidationError):
        await s.receive_feedback(store, channel="web", text="hi", received_at=datetime(2024, 1, 1))

    # Text must be present and within bounds.
    with pytest.raises(ValidationError, match="text"):
        await s.receive_feedback(store, channel="web", text="   ")
    with pytest.raises(ValidationError, match="text"):
        await s.receive_feedback(store, channel="web", text="x" * 10_001)
    await s.receive_feedback(store, channel="web", text="x" * 10_000)

    # Impact at triage comes from a fixed set.
    await _team(store)
    item = await s.receive_feedback(store, channel="web", text="slow")
    with pytest.raises(ValidationError, match="impact"):
        await s.triage_feedback(store, item.id, team="billing", impact="huge")


async def test_receiving_the_same_reference_twice_records_nothing_new(
    store: InMemoryEventStore,
) -> None:
    # A support ticket is imported.
    first = await s.receive_feedback(
        store, channel="support", text="Login fails", external_ref="ZD-1001"
    )
    events_after_first = len(store.all_events())

    # The import runs again: same item, nothing recorded.
    again = await s.receive_feedback(
        store, channel="support", text="Login fails", external_ref="ZD-1001"
    )
    assert (again.id, again.key, again.created, again.position) == (first.id, "FB-1", False, None)
    assert len(store.all_events()) == events_after_first

    # The same reference on another channel is another item.
    other = await s.receive_feedback(
        store, channel="email", text="Login fails", external_ref="ZD-1001"
    )
    assert other.id != first.id


async def test_duplicates_move_demand_to_the_root_and_never_cycle(
    store: InMemoryEventStore,
) -> None:
    a = await s.receive_feedback(
        store, channel="web", text="A", customer_ref="c1", received_at=day(5)
    )
    b = await s.receive_feedback(
        store, channel="chat", text="B", customer_ref="c2", received_at=day(3)
    )
    c = await s.receive_feedback(
        store, channel="email", text="C", customer_ref="c3", received_at=day(4)
    )

    # B repeats A: A now carries both customers, and the earliest time anyone asked.
    await s.mark_duplicate(store, b.id, original="FB-1")
    root = await s.get_feedback(store, a.id)
    assert {d.customer_ref for d in root.demand} == {"c1", "c2"}
    assert root.earliest_received_at == day(3)
    assert (await s.get_feedback(store, b.id)).demand == ()

    # C is marked a duplicate of B: the chain resolves to the root A.
    await s.mark_duplicate(store, c.id, original=b.id)
    assert (await s.get_feedback(store, c.id)).duplicate_of == a.id

    # A cannot become a duplicate of its own duplicate, nor of itself.
    with pytest.raises(DuplicateCycle):
        await s.mark_duplicate(store, a.id, original=c.id)
    with pytest.raises(DuplicateCycle):
        await s.mark_duplicate(store, a.id, original=a.id)

    # A itself turns out to repeat D: all of A's demand moves on, and every duplicate
    # points at D directly.
    d = await s.receive_feedback(store, channel="phone", text="D", customer_ref="c4")
    await s.mark_duplicate(store, a.id, original=d.key or "")
    new_root = await s.get_feedback(store, d.id)
    assert {x.feedback_id for x in new_root.demand} == {a.id, b.id, c.id, d.id}
    assert set(new_root.duplicate_ids) == {a.id, b.id, c.id}
    for item in (a, b, c):
        view = await s.get_feedback(store, item.id)
        assert view.status == "duplicate"
        assert view.duplicate_of == d.id
        assert view.demand == ()

    # A duplicate cannot be marked a duplicate again.
    with pytest.raises(InvalidTransition, match="duplicate"):
        await s.mark_duplicate(store, b.id, original=d.id)


async def test_keys_are_never_reused_and_every_command_takes_key_or_id(
    store: InMemoryEventStore,
) -> None:
    # A receive that fails validation after taking a number leaves a gap, never a reuse.
    one = await s.receive_feedback(store, channel="web", text="one")
    with pytest.raises(ValidationError):
        await s.receive_feedback(store, channel="web", text="")
    two = await s.receive_feedback(store, channel="web", text="two")
    assert one.key == "FB-1"
    assert two.key is not None
    assert int(two.key.split("-")[1]) > 1

    # Keys are accepted in any letter case, ids as UUIDs or strings.
    assert (await s.get_feedback(store, "fb-1")).id == one.id
    assert (await s.get_feedback(store, str(one.id))).key == "FB-1"

    # A decision key is not a feedback key; unknown keys are not found.
    with pytest.raises(ValidationError):
        await s.get_feedback(store, "DEC-1")
    with pytest.raises(FeedbackNotFound):
        await s.get_feedback(store, "FB-999")


async def test_expected_version_guards_against_lost_updates(store: InMemoryEventStore) -> None:
    await _team(store)
    item = await s.receive_feedback(store, channel="web", text="slow page")

    # Two people open the item at version 1; the first triage wins.
    await s.triage_feedback(store, item.id, team="billing", expected_version=1)

    # The second, still at version 1, gets a conflict naming the current version.
    with pytest.raises(ConcurrencyConflict) as caught:
        await s.retag_feedback(store, item.id, tags=["perf"], expected_version=1)
    assert caught.value.current_version == 2


async def test_a_decision_taken_before_the_ask_still_plans_and_declines_its_items(
    store: InMemoryEventStore,
) -> None:
    await _team(store)
    # Two customers ask on day 5, after the team had already settled what to do.
    for text in ("Export my invoices as CSV", "Let me download invoices"):
        item = await s.receive_feedback(store, channel="email", text=text, received_at=day(5))
        await s.triage_feedback(store, item.id, team="billing", triaged_at=day(6))
    await s.propose_decision(
        store, team="billing", title="CSV export", rationale="asked", feedback=["FB-1"]
    )
    await s.propose_decision(
        store, team="billing", title="Downloads", rationale="no", feedback=["FB-2"]
    )

    # The decisions are recorded with the days they were taken (day 3, before the asks):
    # the items follow them, since that time is the decision's, not one stated for an item.
    await s.accept_decision(store, "DEC-1", decided_at=day(3))
    assert (await s.get_feedback(store, "FB-1")).status == "planned"
    await s.accept_decision(store, "DEC-2", decided_at=day(3))
    await s.decline_decision(store, "DEC-2", decided_at=day(3))
    assert (await s.get_feedback(store, "FB-2")).status == "declined"

    # A time stated for the item itself still may not precede its ask.
    await s.receive_feedback(store, channel="email", text="CSV please", received_at=day(5))
    with pytest.raises(ValidationError, match="triaged_at"):
        await s.triage_feedback(store, "FB-3", team="billing", triaged_at=day(4))


async def test_a_detractor_is_followed_up_before_anything_ships(store: InMemoryEventStore) -> None:
    await _team(store)
    # A detractor answers a survey; billing triages it.
    await s.receive_feedback(
        store, channel="survey", text="Nobody answers", nps=2, received_at=day(1)
    )
    await s.triage_feedback(store, "FB-1", team="billing", triaged_at=day(1) + timedelta(hours=1))

    # Nothing is shipped or declined yet, so the loop cannot close...
    with pytest.raises(InvalidTransition):
        await s.close_feedback_loop(store, "FB-1", how="call", closed_at=day(2))
    # ...but someone calls the customer back: recorded, and the item stays where it was.
    await s.follow_up_feedback(
        store, "FB-1", how=" Call ", note="Apologised", followed_up_at=day(2)
    )
    item = await s.get_feedback(store, "FB-1")
    assert (item.status, item.followed_up_at) == ("triaged", day(2))

    # A call back before the answer was received is refused, naming the field.
    with pytest.raises(ValidationError) as refused:
        await s.follow_up_feedback(store, "FB-1", how="call", followed_up_at=day(0))
    assert refused.value.field == "followed_up_at"

    # A later call, and the loop closing later still, leave the first contact as it was;
    # a call recorded late but made earlier becomes the first.
    await s.follow_up_feedback(store, "FB-1", how="email", followed_up_at=day(3))
    await s.decline_feedback(store, "FB-1", reason="Known", declined_at=day(4))
    await s.close_feedback_loop(store, "FB-1", how="email", closed_at=day(5))
    assert (await s.get_feedback(store, "FB-1")).followed_up_at == day(2)
    await s.follow_up_feedback(
        store, "FB-1", how="call", followed_up_at=day(1) + timedelta(hours=2)
    )
    assert (await s.get_feedback(store, "FB-1")).followed_up_at == day(1) + timedelta(hours=2)

    # An item closed without any follow-up was contacted when its loop closed.
    await s.receive_feedback(store, channel="web", text="Export is slow", received_at=day(1))
    await s.decline_feedback(store, "FB-2", reason="Known", declined_at=day(2))
    await s.close_feedback_loop(store, "FB-2", how="email", closed_at=day(3))
    assert (await s.get_feedback(store, "FB-2")).followed_up_at == day(3)
