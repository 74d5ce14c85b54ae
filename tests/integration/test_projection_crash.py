"""kill -9 a projection worker at random points while it catches up: after each restart
the read models end up exactly equal to a clean rebuild."""

from __future__ import annotations

import asyncio
import random
import signal
import time

import asyncpg
import pytest

from bench.data import Size, load
from infra.eventstore import PostgresEventStore
from infra.settings import Settings
from projections.catalog import all_projections
from projections.runner import request_rebuild, statuses
from projections.worker import build_runner
from tests.processes import loopline_env, start_loopline

# Fault injection (kill -9), like the reliability suite: the full run on the default Python
# covers it; CI's second-interpreter pass leaves it out with the rest of that suite.
pytestmark = pytest.mark.reliability

KILLS = 20


async def checksums(pool: asyncpg.Pool) -> dict[str, str]:
    """One digest per read-model table, over every row."""
    result = {}
    async with pool.acquire() as conn:
        for projection in all_projections():
            for table in projection.tables:
                result[table] = await conn.fetchval(
                    f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                    f"FROM read.{table} t"
                )
    return result


async def behind(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return sum(s.lag for s in await statuses(conn, all_projections()))


async def _progress_below(pool: asyncpg.Pool, lag: int) -> None:
    """Return once the projections are less than `lag` events behind (at most 2 minutes)."""
    deadline = time.monotonic() + 120
    while (now := await behind(pool)) >= lag:
        assert time.monotonic() < deadline, f"a restarted worker made no progress ({now} behind)"
        await asyncio.sleep(0.01)  # polling a database figure: no event to wait on


async def test_kill_nine_at_twenty_random_points_then_equal_to_a_clean_rebuild(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool, settings: Settings
) -> None:
    # Over 50,000 events of a realistic organisation are waiting to be projected.
    written = await load(event_store, seed=7, size=Size(teams=5, feedback=16000, increments=3000))
    assert written >= 50_000
    # Small batches and short lives: the worker must still be behind at every kill, on a
    # fast machine as on a slow one.
    env = loopline_env(DATABASE_URL=database_url, LOOPLINE_PROJECTION_BATCH_SIZE="20")
    rng = random.Random(20)
    kills_while_behind = 0
    lags: list[int] = []
    # A worker starts, projects for a random while, and is killed with SIGKILL; again and again.
    while kills_while_behind < KILLS:
        worker = start_loopline("project", env=env)
        try:
            assert worker.stdout is not None
            line = ""
            while "projecting" not in line:
                line = await asyncio.to_thread(worker.stdout.readline)
                assert line, "the worker exited before it started projecting"
            # Killed at a random point once this worker has committed some progress: on
            # a loaded machine a fixed wall-clock wait may end before its first batch.
            await _progress_below(pool, lags[-1] if lags else await behind(pool))
            await asyncio.sleep(rng.uniform(0.0, 0.2))
        finally:
            # Killed here whatever happened above: a failed test leaves no worker behind.
            worker.send_signal(signal.SIGKILL)
            await asyncio.to_thread(worker.wait)
        lag = await behind(pool)
        assert lag > 0, "the worker caught up before it was killed enough times"
        kills_while_behind += 1
        lags.append(lag)
    # Each kill interrupted a worker after it had made some progress.
    assert lags == sorted(lags, reverse=True)
    assert len(set(lags)) == KILLS
    # A last worker finishes the job.
    runner = build_runner(settings, database_url, pool, all_projections())
    began = time.monotonic()
    await runner.catch_up()
    assert await behind(pool) == 0, f"still behind after {time.monotonic() - began:.1f}s"
    recovered = await checksums(pool)
    # A clean rebuild from the event store gives exactly the same read models.
    async with pool.acquire() as conn:
        for projection in all_projections():
            await request_rebuild(conn, projection.name)
    await runner.catch_up()
    async with pool.acquire() as conn:
        active = {s.active_schema for s in await statuses(conn, all_projections())}
    assert all(schema and schema.endswith("_g2") for schema in active)
    assert await checksums(pool) == recovered
