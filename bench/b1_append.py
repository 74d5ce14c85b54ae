"""B1 append: Loopline's store vs raw asyncpg INSERTs (same shape and lock) vs
eventsourcing's stock PostgreSQL recorder; 1 and 8 writers; batched vs single."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.conninfo import conninfo_to_dict

from bench.harness import Context
from infra.recorder import AsyncpgRecorder

STATE = b'{"text":' + b'"' + b"x" * 180 + b'"}'
RAW_INSERT = (
    "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
    "SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::bytea[]) "
    "RETURNING notification_id"
)


def events(originator: UUID, start: int, count: int) -> list[StoredEvent]:
    return [
        StoredEvent(
            originator_id=originator,
            originator_version=v,
            topic="bench:Event",
            state=STATE,
        )
        for v in range(start, start + count)
    ]


Append = Callable[[list[StoredEvent]], Awaitable[Any]]


async def drive(append: Append, writers: int, per_writer: int, batch: int) -> float:
    """Events per second for `writers` concurrent writers of `per_writer` events each."""

    async def writer() -> None:
        originator = uuid4()
        for start in range(1, per_writer + 1, batch):
            await append(events(originator, start, min(batch, per_writer - start + 1)))

    began = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return writers * per_writer / (time.perf_counter() - began)


async def loopline_rate(dsn: str, writers: int, per_writer: int, batch: int) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=writers, max_size=writers)
    try:
        recorder = AsyncpgRecorder(pool)
        return await drive(recorder.append, writers, per_writer, batch)
    finally:
        await pool.close()


async def raw_rate(dsn: str, writers: int, per_writer: int, batch: int) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=writers, max_size=writers)

    async def append(stored: list[StoredEvent]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE stored_events IN EXCLUSIVE MODE")
            await conn.fetch(
                RAW_INSERT,
                [e.originator_id for e in stored],
                [e.originator_version for e in stored],
                [e.topic for e in stored],
                [e.state for e in stored],
            )

    try:
        return await drive(append, writers, per_writer, batch)
    finally:
        await pool.close()


def library_rate(dsn: str, writers: int, per_writer: int, batch: int) -> float:
    info: dict[str, Any] = conninfo_to_dict(dsn)
    datastore = PostgresDatastore(
        dbname=info["dbname"],
        host=info.get("host", ""),
        port=info.get("port", 5432),
        user=info.get("user", "postgres"),
        password=info.get("password", ""),
        pool_size=writers,
    )
    recorder = PostgresApplicationRecorder(datastore, events_table_name="stored_events")

    def writer() -> None:
        originator = uuid4()
        for start in range(1, per_writer + 1, batch):
            recorder.insert_events(events(originator, start, min(batch, per_writer - start + 1)))

    try:
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=writers) as pool:
            for future in [pool.submit(writer) for _ in range(writers)]:
                future.result()
        return writers * per_writer / (time.perf_counter() - began)
    finally:
        datastore.close()


async def run(ctx: Context) -> None:
    single_events = 400 if ctx.quick else 4000
    batched_events = 4000 if ctx.quick else 40000
    rates: dict[tuple[str, int, int], float] = {}
    for writers in (1, 8):
        for batch, total in ((1, single_events), (100, batched_events)):
            per_writer = max(batch, total // writers)
            rates[("loopline", writers, batch)] = await loopline_rate(
                await ctx.fresh_database(), writers, per_writer, batch
            )
            rates[("raw", writers, batch)] = await raw_rate(
                await ctx.fresh_database(), writers, per_writer, batch
            )
            dsn = await ctx.fresh_database()
            rates[("library", writers, batch)] = await asyncio.to_thread(
                library_rate, dsn, writers, per_writer, batch
            )
    for writers in (1, 8):
        for batch in (1, 100):
            mode = "batched" if batch > 1 else "single"
            ours = rates[("loopline", writers, batch)]
            lib = rates[("library", writers, batch)]
            raw = rates[("raw", writers, batch)]
            ctx.record(
                f"B1-append-{writers}w-{mode}",
                ours,
                "events/s",
                baseline="eventsourcing stock recorder",
                baseline_figure=lib,
                target=">= 1.3x",
                met=ours >= 1.3 * lib,
            )
            ctx.record(
                f"B1-append-{writers}w-{mode}-raw",
                ours,
                "events/s",
                baseline="raw asyncpg, same lock",
                baseline_figure=raw,
                target=">= 0.9x",
                met=ours >= 0.9 * raw,
            )
        batched = rates[("loopline", writers, 100)]
        single = rates[("loopline", writers, 1)]
        ctx.record(
            f"B1-append-{writers}w-batching",
            batched,
            "events/s",
            baseline="loopline, 1 event a transaction",
            baseline_figure=single,
            target=">= 25x",
            met=batched >= 25 * single,
        )
