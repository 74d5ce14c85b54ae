"""A rebuild gives exactly the read models that following the events live gave.

Following live applies a few events at a time as they are written (one upsert a row,
incidents tied batch by batch, the search vector and indexes kept at every write); a
rebuild applies thousands at a time (COPY and merges, ties and indexes made once it has
caught up, on several connections). Both must end in the same rows."""

from __future__ import annotations

import asyncio
import io

import asyncpg
import msgspec
import pytest
from rich.console import Console

from infra.settings import Settings
from loopline.demo import DemoSize
from loopline.demo.loading import load_demo_database
from projections import similar
from projections.catalog import all_projections
from projections.runner import request_rebuild, statuses, wait_for_position
from projections.worker import build_runner, run_until_stopped

SIZE = DemoSize(teams=3, feedback=300, increments=80, days=60)


async def read_models(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Every row of every read-model table, as text, in a stable order."""
    result = {}
    async with pool.acquire() as conn:
        for projection in all_projections():
            for table in projection.tables:
                result[table] = [
                    r[0] for r in await conn.fetch(f"SELECT t::text FROM read.{table} t ORDER BY 1")
                ]
    return result


async def test_a_rebuild_yields_the_read_models_live_following_gave(
    database_url: str, pool: asyncpg.Pool, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    projections = all_projections()
    # The projections follow the demo's history live, a few events a batch, while the
    # demo's commands write it (corrections, undos, merges, rollbacks and incidents).
    live = build_runner(
        msgspec.structs.replace(settings, projection_batch_size=5, poll_interval=0.05),
        database_url,
        pool,
        projections,
    )
    await live.catch_up()  # built (empty) and switched: from here on they follow
    stop = asyncio.Event()
    following = asyncio.create_task(run_until_stopped(live, stop=stop))
    try:
        report = await load_demo_database(
            settings, database_url, seed=3, size=SIZE, console=Console(file=io.StringIO())
        )
        assert report is not None
        async with pool.acquire() as conn:
            head = int(await conn.fetchval("SELECT max(notification_id) FROM stored_events"))
            assert await wait_for_position(conn, head, projections, within=300)
    finally:
        stop.set()
        await following
    followed = await read_models(pool)
    assert sum(len(rows) for rows in followed.values()) > 1000

    # Every projection is rebuilt from the events into new tables, thousands a batch (the
    # similar words' texts taken in a hundred at a time, as tens of thousands are in a
    # long history: an edit's earlier words are found among those already taken in).
    monkeypatch.setattr(similar, "TAKE_IN_AT", 100)
    async with pool.acquire() as conn:
        for projection in projections:
            await request_rebuild(conn, projection.name)
    await build_runner(settings, database_url, pool, projections).catch_up()
    async with pool.acquire() as conn:
        found = await statuses(conn, projections)
    assert all(s.building_schema is None and (s.active_schema or "").endswith("_g2") for s in found)
    rebuilt = await read_models(pool)
    for table, rows in followed.items():
        assert rebuilt[table] == rows, table
