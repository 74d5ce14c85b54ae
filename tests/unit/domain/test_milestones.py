"""Milestones a caller states may not precede the first ask; stored history always loads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain import services as s
from domain.errors import ValidationError
from domain.feedback import Feedback
from domain.memory import InMemoryEventStore
from tests.unit.domain.times import day


async def test_a_stated_milestone_before_the_first_ask_is_refused(
    store: InMemoryEventStore,
) -> None:
    await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    await s.receive_feedback(store, channel="chat", text="slow", received_at=day(5))

    # Triaging (or declining) it before anyone asked would make a negative lead time.
    with pytest.raises(ValidationError) as refused:
        await s.triage_feedback(store, "FB-1", team="billing", triaged_at=day(4))
    assert refused.value.field == "triaged_at"
    with pytest.raises(ValidationError) as refused:
        await s.decline_feedback(store, "FB-1", reason="no", declined_at=day(4))
    assert refused.value.field == "declined_at"

    # The same time after the ask is fine.
    triaged = await s.triage_feedback(store, "FB-1", team="billing", triaged_at=day(6))
    assert triaged.status == "triaged"


def test_history_recorded_before_a_rule_was_tightened_still_loads() -> None:
    # An item whose stored triage precedes its receipt (recorded before the rule existed):
    # its events are written directly, as an older release would have.
    item = Feedback.receive(
        key="FB-9",
        channel="email",
        touchpoint="billing",
        text="old",
        customer_ref=None,
        segment=None,
        nps=None,
        nps_reason=None,
        external_ref=None,
        received_at=day(5),
    )
    item._triage(  # the @event body alone, as replay runs it
        team_id=uuid4(),
        tags=(),
        impact=None,
        outcome_id=None,
        triaged_at=day(5) - timedelta(days=1),
    )
    # Replaying the stored events runs only the state rules: the item loads as it was.
    loaded: Any = None
    for e in item.collect_events():
        loaded = e.mutate(loaded)
    assert loaded.status == "triaged"
