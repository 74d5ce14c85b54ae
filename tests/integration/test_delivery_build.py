"""How the delivery projection builds: the commits' first deployments are worked out once,
when a build has caught up (one sort of all the commits rather than a key lookup per commit
in every batch, which grows with the history), and kept batch by batch from then on, even by
a worker that takes over a build stopped while it was being indexed."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from infra.database import Connection
from infra.eventstore import PostgresEventStore
from projections.delivery import Delivery
from projections.runner import ProjectionRunner
from tests.integration.test_metrics import at, deploy, sha


def runner(database_url: str, event_store: PostgresEventStore) -> ProjectionRunner:
    return ProjectionRunner(
        database_url,
        event_store.recorder,
        event_store.mapper,
        [Delivery()],
        batch_size=2,
        poll_interval=0.05,
        lease_retry=0.05,
    )


async def firsts(conn: Connection, schema: str) -> dict[str, tuple[Any, ...]]:
    rows = await conn.fetch(
        f'SELECT sha, increment_id, deployed_at, authored_at FROM "{schema}".commit_deployments'
    )
    return {r["sha"]: (r["increment_id"], r["deployed_at"], r["authored_at"]) for r in rows}


class Stopped(Exception):
    """The worker building the projection stops while indexing it."""


async def test_first_deployments_are_found_once_caught_up_and_kept_per_batch_after(
    database_url: str,
    event_store: PostgresEventStore,
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Commit 1 is carried by a failed deployment, then by D1; commit 2 by D1 and D2; commit
    # 3 by D2 and by an earlier staging deployment (not production).
    await deploy(event_store, "api", at(-1), [(1, at(-2))], succeeded=False)
    d1 = await deploy(event_store, "api", at(0), [(1, at(-2)), (2, at(-1, hours=1))])
    d2 = await deploy(event_store, "api", at(1), [(2, at(-1)), (3, at(0))])
    await deploy(event_store, "api", at(-3), [(3, at(-4))], environment="staging")
    async with pool.acquire() as c:
        await c.execute(
            "INSERT INTO projection_registry (name, rebuild_requested) VALUES ('delivery', true)"
        )

    building = runner(database_url, event_store)
    conn = await asyncpg.connect(database_url)
    try:
        lane = await building._lane(conn, Delivery())
        await building._apply_until_head(conn, [lane], await building._head(conn), None)
        # Catching up, two events a batch, the build wrote no first deployment...
        assert await firsts(conn, lane.schema) == {}

        async def stop(*args: object, **kwargs: object) -> None:
            raise Stopped

        # ...and works them all out once it has caught up, before its indexes (where this
        # worker stops).
        monkeypatch.setattr(building, "_in_parallel", stop)
        with pytest.raises(Stopped):
            await building._finish_build(lane)
        assert await firsts(conn, lane.schema) == {
            sha(1): (d1, at(0), at(-2)),
            sha(2): (d1, at(0), at(-1, hours=1)),
            sha(3): (d2, at(1), at(0)),
        }
    finally:
        await conn.close()

    # Imported history arrives: D0 finished before D1 and carries commit 2. The worker that
    # takes the build over applies it batch by batch, then indexes and switches.
    d0 = await deploy(event_store, "api", at(-0.5), [(2, at(-1, hours=2)), (4, at(-1))])
    await runner(database_url, event_store).catch_up()
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT active_schema FROM projection_registry") == lane.schema
        assert await firsts(c, "read") == {
            sha(1): (d1, at(0), at(-2)),
            sha(2): (d0, at(-0.5), at(-1, hours=2)),
            sha(3): (d2, at(1), at(0)),
            sha(4): (d0, at(-0.5), at(-1)),
        }
        # Commit 2's day moved from D1's to D0's.
        days = await c.fetch("SELECT day, sum(commits)::int FROM read.commit_days GROUP BY 1")
        assert {r[0]: r[1] for r in days} == {
            at(-0.5).date(): 2,
            at(0).date(): 1,
            at(1).date(): 1,
        }
