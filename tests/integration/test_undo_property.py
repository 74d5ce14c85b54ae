"""Undo leaves no trace in the numbers: for any sequence of feedback commands with undos
mixed in, every lead-time figure and every item row equals the one for the same sequence
without the undone commands (issue 14, part 2).

Both runs share one database and keep apart by touchpoint, which the metrics filter on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
from hypothesis import HealthCheck, given, settings

from domain import services as s
from infra.database import Connection
from infra.eventstore import PostgresEventStore
from projections.catalog import all_projections
from projections.feedback import list_feedback
from projections.metrics import GROUPINGS, MEASURES, lead_times
from projections.runner import ProjectionRunner
from tests.unit.domain.undo_runs import T0, Op, Run, ops, run_both

NOW = T0 + timedelta(days=60)


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


async def numbers(run: Run, conn: Connection) -> dict[str, Any]:
    """Every lead-time figure of this run's touchpoint, and every item row."""
    figures: dict[str, Any] = {}
    for measure in MEASURES:
        # Grouped by touchpoint, the two runs differ by name only.
        for group_by in (None, *(g for g in GROUPINGS if g != "touchpoint")):
            answer = await lead_times(
                conn, measure, touchpoint=run.touchpoint, group_by=group_by, now=NOW
            )
            figures[f"{measure}/{group_by}"] = answer.groups
    page = await list_feedback(conn, touchpoint=run.touchpoint, limit=100)
    index = {item: n for n, item in enumerate(run.items)}
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
            r.followed_up_at,
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
    undone, never = await run_both(event_store, team, ops)
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        assert await numbers(undone, conn) == await numbers(never, conn)
