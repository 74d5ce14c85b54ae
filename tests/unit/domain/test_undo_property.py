"""For any feedback commands with undos mixed in, every item ends as it would have without
the undone commands (the domain side; tests/integration/test_undo_property.py checks every
lead-time figure and read-model row)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import example, given, settings

from domain import services as s
from domain.memory import InMemoryEventStore
from tests.unit.domain.undo_runs import T0, Op, Run, ops, run_both


async def _states(run: Run, store: InMemoryEventStore) -> list[Any]:
    index = {item: n for n, item in enumerate(run.items)}
    states: list[Any] = []
    for item in run.items:
        v = await s.get_feedback(store, item)
        states.append(
            (
                v.status,
                v.team_id,
                v.tags,
                v.impact,
                v.deferred_until,
                v.reason,
                None if v.duplicate_of is None else index[v.duplicate_of],
                sorted(index[d] for d in v.duplicate_ids),
                sorted((index[d.feedback_id], d.customer_ref) for d in v.demand),
                v.earliest_received_at,
                v.loop_closed_how,
                v.followed_up_at,
                None if v.decision_id is None else v.decision_id == run.decision,
            )
        )
    decision = await s.get_decision(store, run.decision) if run.decision else None
    linked = sorted(index[f] for f in decision.feedback_ids) if decision else []
    return [*states, ("decision answers", linked)]


@settings(max_examples=300, deadline=None)
@given(ops)
@example([("receive", 0, 0), ("receive", 0, 1), ("triage", 0, 0), ("plan", 0, 0), ("undo", 0, 0)])
@example(
    [("receive", 0, 0), ("receive", 0, 1), ("duplicate", 1, 0), ("triage", 0, 0)]
    + [("undo", 0, 0)] * 2
)
async def test_undone_commands_leave_items_as_if_never_made(ops: list[Op]) -> None:
    store = InMemoryEventStore()
    await s.form_team(store, slug="billing", name="Billing", formed_at=T0 - timedelta(days=1))
    undone, never = await run_both(store, "billing", ops)
    assert await _states(undone, store) == await _states(never, store)
