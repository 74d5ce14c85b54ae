"""B3 rebuild: all projections replayed from the event store, against a naive rebuild that
commits every event on its own and against a plain sequential read of the events table."""

from __future__ import annotations

import time

import asyncpg

from bench.data import Size, load
from bench.harness import Context
from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.settings import load_settings
from projections.catalog import all_projections
from projections.runner import request_rebuild
from projections.worker import build_runner

NAIVE_SAMPLE = 20_000


def size_for(events: int) -> Size:
    # bench.data writes about 3.3 events per feedback item at these proportions.
    feedback = max(1000, events * 10 // 33)
    return Size(teams=6, feedback=feedback, increments=max(200, feedback // 5))


async def sequential_read(pool: asyncpg.Pool, batch: int = 5000) -> tuple[int, float]:
    """Rows per second reading the whole events table in notification order."""
    began = time.perf_counter()
    position = 0
    rows = 0
    async with pool.acquire() as conn:
        while True:
            got = await conn.fetch(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM stored_events WHERE notification_id > $1 ORDER BY notification_id LIMIT $2",
                position,
                batch,
            )
            if not got:
                break
            rows += len(got)
            position = got[-1][0]
    return rows, rows / (time.perf_counter() - began)


async def prepare(ctx: Context, events: int) -> tuple[str, int]:
    dsn = await ctx.fresh_database()
    settings = load_settings({}, database_url=dsn)
    pool = await create_pool(settings, dsn)
    try:
        written = await load(PostgresEventStore.from_pool(pool, settings), 3, size_for(events))
    finally:
        await pool.close()
    return dsn, written


async def rebuild_rate(dsn: str, written: int, batch_size: int | None = None) -> float:
    overrides = {} if batch_size is None else {"projection_batch_size": batch_size}
    settings = load_settings({}, database_url=dsn, **overrides)
    pool = await create_pool(settings, dsn)
    try:
        runner = build_runner(settings, dsn, pool, all_projections())
        async with pool.acquire() as conn:
            for projection in all_projections():
                await request_rebuild(conn, projection.name)
        began = time.perf_counter()
        await runner.catch_up()
        return written / (time.perf_counter() - began)
    finally:
        await pool.close()


async def run(ctx: Context) -> None:
    events = 50_000 if ctx.quick else 1_000_000
    dsn, written = await prepare(ctx, events)
    print(f"    {written:,} events written", flush=True)
    ours = await rebuild_rate(dsn, written)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        _, read_rate = await sequential_read(pool)
    finally:
        await pool.close()
    naive_dsn, naive_written = await prepare(ctx, min(events, NAIVE_SAMPLE))
    naive = await rebuild_rate(naive_dsn, naive_written, batch_size=1)
    ctx.record(
        "B3-rebuild",
        ours,
        "events/s",
        baseline=f"naive: commit per event ({naive_written:,} events)",
        baseline_figure=naive,
        target=">= 10x, >= 60k/s",
        met=ours >= 10 * naive and ours >= 60_000,
    )
    ctx.record(
        "B3-rebuild-vs-read",
        ours,
        "events/s",
        baseline="plain sequential read of the table",
        baseline_figure=read_rate,
        target=">= 0.15x",
        met=ours >= 0.15 * read_rate,
    )
