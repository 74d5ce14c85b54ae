from __future__ import annotations

import pytest

from domain import services as s
from domain.errors import InvalidTransition, ValidationError
from domain.memory import InMemoryEventStore
from tests.unit.domain.times import day


async def _triaged(store: InMemoryEventStore, *texts: str) -> list[str]:
    keys = []
    for text in texts:
        item = await s.receive_feedback(store, channel="web", text=text, received_at=day(1))
        await s.triage_feedback(store, item.id, team="growth", triaged_at=day(2))
        assert item.key is not None
        keys.append(item.key)
    return keys


async def test_a_declined_decision_declines_its_planned_feedback(
    store: InMemoryEventStore,
) -> None:
    await s.form_team(store, slug="growth", name="Growth", formed_at=day(0))
    fb1, fb2 = await _triaged(store, "Referral program", "Invite colleagues")

    # A decision answering both is proposed, accepted, started and ranked first.
    dec = await s.propose_decision(
        store, team="growth", title="Referrals", rationale="Word of mouth", feedback=[fb1, fb2]
    )
    await s.accept_decision(store, dec.id, decided_at=day(3))
    await s.start_decision(store, dec.id, started_at=day(4))
    await s.rank_decision(store, dec.id, rank=1)
    view = await s.get_decision(store, dec.id)
    assert view.status == "in_progress"
    assert view.rank == 1
    assert (await s.get_feedback(store, fb1)).status == "planned"

    # One item is unlinked and goes back to triaged.
    await s.unlink_feedback(store, dec.id, feedback=[fb2])
    assert (await s.get_feedback(store, fb2)).status == "triaged"

    # The decision is declined with a new rationale; its planned item is declined with it.
    await s.decline_decision(store, dec.key or "", rationale="Legal says no", decided_at=day(5))
    item = await s.get_feedback(store, fb1)
    assert item.status == "declined"
    assert item.reason == "Legal says no"
    assert (await s.get_feedback(store, fb2)).status == "triaged"

    # A declined decision cannot be accepted, ranked or shipped.
    with pytest.raises(InvalidTransition, match="declined"):
        await s.accept_decision(store, dec.id)
    with pytest.raises(InvalidTransition, match="rank"):
        await s.rank_decision(store, dec.id, rank=2)


async def test_superseding_moves_feedback_to_the_new_decision(store: InMemoryEventStore) -> None:
    await s.form_team(store, slug="growth", name="Growth", formed_at=day(0))
    fb1, fb2 = await _triaged(store, "Dark mode", "Night theme")

    # DEC-1 answers FB-1 and is accepted: FB-1 is planned under it.
    old = await s.propose_decision(
        store, team="growth", title="Dark", rationale="r", feedback=[fb1]
    )
    await s.accept_decision(store, old.id)

    # DEC-2, only proposed, supersedes it: FB-1 moves over and waits in triage.
    new = await s.propose_decision(store, team="growth", title="Themes", rationale="r2")
    await s.supersede_decision(store, old.id, by=new.key or "")
    assert (await s.get_decision(store, old.id)).superseded_by == new.id
    assert (await s.get_decision(store, new.id)).feedback_ids == (
        (await s.get_feedback(store, fb1)).id,
    )
    assert (await s.get_feedback(store, fb1)).status == "triaged"

    # Accepting DEC-2 plans it, and linking FB-2 to the accepted decision plans that too.
    await s.accept_decision(store, new.id)
    await s.link_feedback(store, new.id, feedback=[fb2])
    for key in (fb1, fb2):
        view = await s.get_feedback(store, key)
        assert view.status == "planned"
        assert view.decision_id == new.id

    # A decision cannot supersede itself.
    with pytest.raises(ValidationError):
        await s.supersede_decision(store, new.id, by=new.id)


async def test_planning_requires_an_accepted_decision(store: InMemoryEventStore) -> None:
    await s.form_team(store, slug="growth", name="Growth", formed_at=day(0))
    (fb1,) = await _triaged(store, "Faster search")
    dec = await s.propose_decision(store, team="growth", title="Search", rationale="r")

    # Planning under a proposed decision is refused, naming its state.
    with pytest.raises(InvalidTransition, match="proposed"):
        await s.plan_feedback(store, fb1, decision=dec.id)

    # Once accepted, planning links the item to the decision.
    await s.accept_decision(store, dec.id)
    await s.plan_feedback(store, fb1, decision=dec.key or "")
    assert (await s.get_decision(store, dec.id)).feedback_ids == (
        (await s.get_feedback(store, fb1)).id,
    )
