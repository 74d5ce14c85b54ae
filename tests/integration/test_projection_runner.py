"""The projection runner: exactly once, one worker per projection, rebuilds that switch
atomically, and a failing event that stops the projection before it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest
from eventsourcing.domain import Aggregate, event

from infra.database import Connection
from infra.eventstore import PostgresEventStore
from infra.recorder import AsyncpgRecorder
from projections.base import Positioned, Projection, events_of
from projections.runner import ProjectionRunner, request_rebuild, statuses, wait_for_position


class Tally(Aggregate):
    def __init__(self, label: str) -> None:
        self.label = label

    class Bumped(Aggregate.Event):
        poison: bool

    @event(Bumped)
    def bump(self, poison: bool = False) -> None:
        pass


class Seen(Projection):
    """Records every event it applies; a primary key catches double application."""

    name = "seen"
    version = 1
    tables = ("seen_events",)
    topics = events_of(Tally, "Created", "Bumped")

    def schema_sql(self) -> str:
        return "CREATE TABLE seen_events (position bigint PRIMARY KEY, version int NOT NULL)"

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        for _, e in events:
            if getattr(e, "poison", False):
                raise ValueError("cannot digest this event")
        await conn.executemany(
            "INSERT INTO seen_events VALUES ($1, $2)",
            [(position, self.version) for position, _ in events],
        )


class SeenV2(Seen):
    version = 2


def runner(
    database_url: str, event_store: PostgresEventStore, projections: Sequence[Projection]
) -> ProjectionRunner:
    return ProjectionRunner(
        database_url,
        event_store.recorder,
        event_store.mapper,
        projections,
        batch_size=50,
        poll_interval=0.05,
        lease_retry=0.05,
    )


async def bumps(event_store: PostgresEventStore, count: int, *, poison_at: int = -1) -> int:
    tally = Tally(label="t")
    for i in range(count):
        tally.bump(poison=i == poison_at)
    recording = await event_store.save(tally)
    assert recording.last_position is not None
    return recording.last_position


async def seen(pool: asyncpg.Pool) -> list[int]:
    async with pool.acquire() as conn:
        return [r[0] for r in await conn.fetch("SELECT position FROM read.seen_events ORDER BY 1")]


async def test_catch_up_builds_switches_and_answers_through_read_views(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # Events exist before the projection ever ran.
    head = await bumps(event_store, 120)
    # One catch-up builds the tables, applies everything and switches the views to them.
    await runner(database_url, event_store, [Seen()]).catch_up()
    assert await seen(pool) == list(range(1, head + 1))
    async with pool.acquire() as conn:
        [status] = await statuses(conn, [Seen()])
    assert status.active_schema == "p_seen_v1_g1"
    assert status.lag == 0


async def test_live_runner_follows_new_events_and_read_your_writes_waits(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    live = runner(database_url, event_store, [Seen()])
    task = asyncio.create_task(live.run())
    try:
        position = await bumps(event_store, 10)
        async with pool.acquire() as conn:
            assert await wait_for_position(conn, position, [Seen()], within=10)
        assert len(await seen(pool)) == position
        # A position nobody will reach times out instead of waiting forever.
        async with pool.acquire() as conn:
            assert not await wait_for_position(conn, position + 1000, [Seen()], within=0.2)
    finally:
        live.stop()
        await asyncio.wait_for(task, timeout=10)


async def test_two_workers_never_run_the_same_projection_at_once(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # Two workers start on the same projection while events keep arriving.
    first = runner(database_url, event_store, [Seen()])
    second = runner(database_url, event_store, [Seen()])
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        total = 0
        for _ in range(20):
            total = await bumps(event_store, 25)
            await asyncio.sleep(0.01)
        async with pool.acquire() as conn:
            assert await wait_for_position(conn, total, [Seen()], within=20)
            holders = await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = $1::oid",
                0x100B_11E1 & 0xFFFFFFFF,
            )
    finally:
        first.stop()
        second.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    # Every event exactly once (the primary key would have refused a second time),
    # and only one lease was ever granted for the projection.
    assert await seen(pool) == list(range(1, total + 1))
    assert holders == 1


async def test_a_version_change_rebuilds_while_queries_keep_answering(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    head = await bumps(event_store, 2000)
    await runner(database_url, event_store, [Seen()]).catch_up()
    answers: list[int] = []
    stop = asyncio.Event()

    async def query_all_the_time() -> None:
        while not stop.is_set():
            async with pool.acquire() as conn:
                answers.append(await conn.fetchval("SELECT count(*) FROM read.seen_events"))

    querying = asyncio.create_task(query_all_the_time())
    # New code with version 2 rebuilds into new tables, then switches.
    await runner(database_url, event_store, [SeenV2()]).catch_up()
    stop.set()
    await querying
    # Every query answered the full count: the old tables until the switch, then the new.
    assert answers
    assert set(answers) == {head}
    async with pool.acquire() as conn:
        versions = await conn.fetch("SELECT DISTINCT version FROM read.seen_events")
        [status] = await statuses(conn, [SeenV2()])
        old_schema = await conn.fetchval("SELECT to_regnamespace('p_seen_v1_g1')")
    assert [r[0] for r in versions] == [2]
    assert status.active_schema == "p_seen_v2_g2"
    assert old_schema is None


async def test_a_requested_rebuild_replays_into_new_tables(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    head = await bumps(event_store, 30)
    work = runner(database_url, event_store, [Seen()])
    await work.catch_up()
    async with pool.acquire() as conn:
        await request_rebuild(conn, "seen")
    reached: list[tuple[int, int]] = []
    await work.catch_up(progress=lambda position, h: reached.append((position, h)))
    assert await seen(pool) == list(range(1, head + 1))
    assert reached[-1] == (head, head)
    async with pool.acquire() as conn:
        [status] = await statuses(conn, [Seen()])
    assert status.active_schema == "p_seen_v1_g2"


async def test_a_failing_event_stops_the_projection_before_it(
    database_url: str,
    event_store: PostgresEventStore,
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The 11th event of the stream (a Bumped with poison) cannot be applied.
    await bumps(event_store, 40, poison_at=9)
    live = runner(database_url, event_store, [Seen()])
    task = asyncio.create_task(live.run())
    await asyncio.wait_for(task, timeout=10)  # the failed projection's task ends
    async with pool.acquire() as conn:
        [status] = await statuses(conn, [Seen()])
        applied = await conn.fetchval("SELECT max(position) FROM p_seen_v1_g1.seen_events")
    # Everything before it was applied; nothing at or after it.
    assert applied == 10
    assert status.position == 10
    assert status.failed_position == 11
    assert "cannot digest" in (status.failed_error or "")
    assert any("failed at position 11" in r.getMessage() for r in caplog.records)


class Tallies(Projection):
    """Counts the Bumped events per tally: a second read model of the same events."""

    name = "tallies"
    version = 1
    tables = ("tallies",)
    topics = events_of(Tally, "Bumped")

    def schema_sql(self) -> str:
        return "CREATE TABLE tallies (id uuid PRIMARY KEY, bumps int NOT NULL)"

    def index_sql(self) -> str:
        # Named: running it twice would fail.
        return "CREATE INDEX tallies_by_bumps ON tallies (bumps)"

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        await conn.executemany(
            "INSERT INTO tallies VALUES ($1, 1) "
            "ON CONFLICT (id) DO UPDATE SET bumps = tallies.bumps + 1",
            [(e.originator_id,) for _, e in events],
        )


class CountingRecorder(AsyncpgRecorder):
    """The real recorder, counting the stored events it reads for projections."""

    rows_read = 0

    async def select_rows(
        self, conn: Connection, after: int, limit: int, *, stop: int, topics: Sequence[str]
    ) -> list[asyncpg.Record]:
        rows = await super().select_rows(conn, after, limit, stop=stop, topics=topics)
        self.rows_read += len(rows)
        return rows


async def test_projections_catching_up_together_read_each_event_once(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # Two read models of the same 300 events, neither built yet.
    head = await bumps(event_store, 299)
    recorder = CountingRecorder(pool)
    together = ProjectionRunner(
        database_url, recorder, event_store.mapper, [Seen(), Tallies()], batch_size=50
    )
    reached: list[tuple[int, int]] = []
    await together.catch_up(progress=lambda position, h: reached.append((position, h)))
    # Both are complete, and the events were read from the store once, not once for each.
    assert await seen(pool) == list(range(1, head + 1))
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT sum(bumps) FROM read.tallies") == 299
    assert recorder.rows_read == head
    # Progress is where both had got to: it never goes back, and ends at the head.
    assert [p for p, _ in reached] == sorted(p for p, _ in reached)
    assert reached[-1] == (head, head)


async def test_a_build_indexed_before_a_crash_is_not_indexed_again(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await bumps(event_store, 20)
    # A worker indexes its caught-up build and dies before switching to it.
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO projection_registry (name, rebuild_requested) VALUES ('tallies', true)"
        )
    crashing = runner(database_url, event_store, [Tallies()])
    dying = await asyncpg.connect(database_url)
    try:
        lane = await crashing._lane(dying, Tallies())
        await crashing._apply_until_head(dying, [lane], await crashing._head(dying), None)
        await crashing._finish_build(lane)
    finally:
        await dying.close()
    # The next worker carries on with that build and switches to it.
    await runner(database_url, event_store, [Tallies()]).catch_up()
    async with pool.acquire() as conn:
        [status] = await statuses(conn, [Tallies()])
        assert await conn.fetchval("SELECT sum(bumps) FROM read.tallies") == 20
    assert status.active_schema == lane.schema


class Staged(Projection):
    """Marks each event by how it reached its table: staged while a build caught up (and
    taken in by `index_sql` once it had), or applied."""

    name = "staged"
    version = 1
    tables = ("staged_events",)
    topics = events_of(Tally, "Created", "Bumped")

    def schema_sql(self) -> str:
        return "CREATE TABLE staged_events (position bigint PRIMARY KEY, how text NOT NULL)"

    def index_sql(self) -> str:
        return (
            "UPDATE staged_events SET how = 'taken in' WHERE how = 'staged';"
            "CREATE INDEX ON staged_events (how)"
        )

    async def _mark(self, conn: Connection, events: Sequence[Positioned], how: str) -> None:
        await conn.executemany(
            "INSERT INTO staged_events VALUES ($1, $2)", [(p, how) for p, _ in events]
        )

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        await self._mark(conn, events, "applied")

    async def stage(self, conn: Connection, events: Sequence[Positioned]) -> None:
        await self._mark(conn, events, "staged")


async def test_a_build_stages_until_it_has_caught_up_then_applies(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    built = await bumps(event_store, 20)
    building = runner(database_url, event_store, [Staged()])
    conn = await asyncpg.connect(database_url)
    try:
        lane = await building._lane(conn, Staged())
        await building._apply_until_head(conn, [lane], await building._head(conn), None)
        # Events arrive between the build's catch-up and its switch...
        await bumps(event_store, 5)
        await building._switch_if_built(lane)
    finally:
        await conn.close()
    # ...and a worker following the switched read model applies new ones as they come.
    last = await bumps(event_store, 3)
    await building.catch_up()
    async with pool.acquire() as c:
        how: dict[int, str] = {
            r[0]: r[1] for r in await c.fetch("SELECT position, how FROM read.staged_events")
        }
    # What the build staged was taken in once it caught up; later events were applied.
    assert how == {
        **{p: "taken in" for p in range(1, built + 1)},
        **{p: "applied" for p in range(built + 1, last + 1)},
    }


async def test_a_build_is_vacuumed_again_once_older_transactions_let_it_be_marked_visible(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await bumps(event_store, 300)
    # A transaction whose snapshot predates the build's rows (another projection's long
    # index build, a report): while it runs, VACUUM cannot mark their pages all-visible,
    # and covering indexes would read the table for every answer.
    reader = await asyncpg.connect(database_url)
    snapshot = reader.transaction(isolation="repeatable_read")
    await snapshot.start()
    await reader.fetchval("SELECT count(*) FROM stored_events")

    async def end_after_the_first_vacuum() -> None:
        async with pool.acquire() as conn:
            for _ in range(1200):
                if await conn.fetchval(
                    "SELECT coalesce(sum(vacuum_count), 0) FROM pg_stat_all_tables "
                    "WHERE schemaname LIKE 'p_seen_%' AND relname = 'seen_events'"
                ):
                    break
                await asyncio.sleep(0.05)
        await snapshot.rollback()

    try:
        ending = asyncio.create_task(end_after_the_first_vacuum())
        await runner(database_url, event_store, [Seen()]).catch_up()
        await ending
    finally:
        await reader.close()
    async with pool.acquire() as conn:
        marked = await conn.fetchrow(
            "SELECT relpages, relallvisible FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN projection_registry r ON r.active_schema = n.nspname "
            "WHERE r.name = 'seen' AND c.relname = 'seen_events'"
        )
    assert marked is not None
    assert marked["relpages"] > 0
    assert marked["relallvisible"] == marked["relpages"]
