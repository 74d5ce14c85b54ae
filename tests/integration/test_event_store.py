"""The asyncpg event store keeps eventsourcing's guarantees, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from uuid import UUID, uuid4

import asyncpg
import msgspec
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent

from domain.errors import ConcurrencyConflict
from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.recorder import AsyncpgRecorder, TrackingConflict
from infra.settings import Settings


class Counter(Aggregate):
    """A tiny aggregate for exercising the store."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0

    @event("Incremented")
    def increment(self, by: int) -> None:
        self.value += by


def stored(originator_id: UUID, version: int, payload: bytes = b"{}") -> StoredEvent:
    return StoredEvent(
        originator_id=originator_id,
        originator_version=version,
        topic="tests:Thing",
        state=payload,
    )


async def test_save_and_reconstruct_several_aggregates_in_one_transaction(
    event_store: PostgresEventStore,
) -> None:
    # Two aggregates change together.
    a, b = Counter(name="a"), Counter(name="b")
    a.increment(by=2)
    b.increment(by=5)
    recording = await event_store.save(a, b)
    # Four events, each with its own increasing position.
    assert len(recording.positions) == 4
    assert list(recording.positions) == sorted(recording.positions)
    # Each rebuilds equal to the one in memory.
    for original in (a, b):
        events = await event_store.get_events(original.id)
        rebuilt = None
        for e in events:
            rebuilt = e.mutate(rebuilt)
        assert rebuilt == original


async def test_a_conflict_in_one_aggregate_writes_nothing_for_the_others(
    event_store: PostgresEventStore,
) -> None:
    a = Counter(name="a")
    await event_store.save(a)
    # Someone else moves `a` on.
    stale = Counter(name="x")
    copy_events = await event_store.get_events(a.id)
    other = None
    for e in copy_events:
        other = e.mutate(other)
    assert isinstance(other, Counter)
    other.increment(by=1)
    await event_store.save(other)
    # Our stale `a` and a brand-new aggregate are saved together.
    a.increment(by=1)
    with pytest.raises(ConcurrencyConflict) as caught:
        await event_store.save(a, stale)
    assert caught.value.current_version == 2
    # Nothing of the failed save was written.
    assert await event_store.get_events(stale.id) == []
    assert len(await event_store.get_events(a.id)) == 2


async def test_get_events_up_to_a_version_and_known_at_a_time(
    event_store: PostgresEventStore,
) -> None:
    a = Counter(name="a")
    a.increment(by=1)
    await event_store.save(a)
    first_two = await event_store.get_events(a.id, lte_version=2)
    assert [e.originator_version for e in first_two] == [1, 2]
    a.increment(by=1)
    await event_store.save(a)
    created_at = first_two[0].timestamp
    known = await event_store.get_events(a.id, known_at=created_at)
    assert [e.originator_version for e in known] == [1]


async def test_fifty_concurrent_appends_of_the_same_version_one_wins(
    event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    recorder = event_store.recorder
    originator = uuid4()
    await recorder.append([stored(originator, 1)])

    async def attempt(i: int) -> str:
        try:
            await recorder.append([stored(originator, 2, b'{"i": %d}' % i)])
        except ConcurrencyConflict:
            return "conflict"
        return "ok"

    outcomes = await asyncio.gather(*(attempt(i) for i in range(50)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("conflict") == 49
    versions = [e.originator_version for e in await recorder.select_events(originator)]
    assert versions == [1, 2]


async def test_follower_sees_every_event_once_in_order_under_eight_writers(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    recorder = AsyncpgRecorder(pool, poll_interval=0.2, append_retries=50)
    total_per_writer = 2500
    writers = 8

    async def writer(w: int) -> None:
        rng = random.Random(w)
        originator = uuid4()
        version = 1
        while version <= total_per_writer:
            size = min(rng.randint(1, 50), total_per_writer - version + 1)
            batch = [stored(originator, v) for v in range(version, version + size)]
            await recorder.append(batch)
            version += size
            if rng.random() < 0.2:
                await asyncio.sleep(0)

    seen: list[int] = []

    async def follower() -> None:
        async for notification in recorder.follow(0, batch_size=300):
            seen.append(notification.id)
            if len(seen) == writers * total_per_writer:
                return

    follow_task = asyncio.create_task(follower())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    await asyncio.wait_for(follow_task, timeout=60)
    async with pool.acquire() as conn:
        committed = [
            r[0] for r in await conn.fetch("SELECT notification_id FROM stored_events ORDER BY 1")
        ]
    assert len(committed) == 20_000
    assert seen == committed


async def test_follower_is_woken_by_notify_not_only_by_polling(pool: asyncpg.Pool) -> None:
    # A poll interval far longer than the test: only NOTIFY can wake the follower.
    recorder = AsyncpgRecorder(pool, poll_interval=30)
    got: asyncio.Queue[int] = asyncio.Queue()

    async def follower() -> None:
        async for notification in recorder.follow(0):
            await got.put(notification.id)

    task = asyncio.create_task(follower())
    try:
        await asyncio.sleep(0.3)
        [position] = await recorder.append([stored(uuid4(), 1)])
        assert await asyncio.wait_for(got.get(), timeout=5) == position
    finally:
        task.cancel()


async def test_notifications_after_a_position_with_limit_and_topics(pool: asyncpg.Pool) -> None:
    recorder = AsyncpgRecorder(pool)
    one, two = uuid4(), uuid4()
    await recorder.append([stored(one, 1), stored(one, 2)])
    await recorder.append(
        [StoredEvent(originator_id=two, originator_version=1, topic="tests:Other", state=b"{}")]
    )
    head = await recorder.max_notification_id()
    everything = await recorder.select_notifications(0, 10)
    assert [n.id for n in everything][-1] == head
    assert len(await recorder.select_notifications(0, 2)) == 2
    after_first = await recorder.select_notifications(everything[0].id, 10)
    assert [n.id for n in after_first] == [n.id for n in everything[1:]]
    others = await recorder.select_notifications(0, 10, topics=["tests:Other"])
    assert [n.originator_id for n in others] == [two]


async def test_tracking_commits_and_rolls_back_with_the_read_model(pool: asyncpg.Pool) -> None:
    recorder = AsyncpgRecorder(pool)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE counts (n int)")
        # A read-model write and its position commit together.
        async with conn.transaction():
            await conn.execute("INSERT INTO counts VALUES (1)")
            await recorder.record_position(conn, "counts", 7)
        assert await recorder.position("counts") == 7
        # A failure after both writes rolls both back.
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await conn.execute("INSERT INTO counts VALUES (2)")
                await recorder.record_position(conn, "counts", 9)
                raise RuntimeError("projection crashed")
        assert await recorder.position("counts") == 7
        assert await conn.fetchval("SELECT count(*) FROM counts") == 1
        # Recording an old position again is refused, so nothing is counted twice.
        with pytest.raises(TrackingConflict):
            async with conn.transaction():
                await conn.execute("INSERT INTO counts VALUES (3)")
                await recorder.record_position(conn, "counts", 7)
        assert await conn.fetchval("SELECT count(*) FROM counts") == 1


async def test_human_key_numbers_increase_and_are_never_reused(pool: asyncpg.Pool) -> None:
    recorder = AsyncpgRecorder(pool)
    numbers = await asyncio.gather(*(recorder.next_number("FB") for _ in range(30)))
    assert sorted(numbers) == list(range(1, 31))
    assert await recorder.next_number("DEC") == 1
    assert await recorder.next_number("FB") == 31


async def test_append_retries_when_the_table_lock_times_out(
    pool: asyncpg.Pool,
    settings: Settings,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    impatient = msgspec.structs.replace(settings, lock_timeout=0.1)
    small_pool = await create_pool(impatient, database_url)
    try:
        recorder = AsyncpgRecorder(small_pool, append_retries=50)
        async with pool.acquire() as blocker:
            # Someone holds the events table lock for a while.
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("LOCK TABLE stored_events IN EXCLUSIVE MODE")
            append = asyncio.create_task(recorder.append([stored(uuid4(), 1)]))
            await asyncio.sleep(1.0)
            assert not append.done()
            await tx.rollback()
        # The append timed out on the lock, retried, and got through once it was free.
        assert len(await asyncio.wait_for(append, timeout=10)) == 1
        assert any("retrying" in r.message for r in caplog.records)
    finally:
        await small_pool.close()


async def test_append_gives_up_after_its_retries(
    pool: asyncpg.Pool, settings: Settings, database_url: str
) -> None:
    impatient = msgspec.structs.replace(settings, lock_timeout=0.05)
    small_pool = await create_pool(impatient, database_url)
    try:
        recorder = AsyncpgRecorder(small_pool, append_retries=2)
        async with pool.acquire() as blocker, blocker.transaction():
            await blocker.execute("LOCK TABLE stored_events IN EXCLUSIVE MODE")
            with pytest.raises(asyncpg.LockNotAvailableError):
                await recorder.append([stored(uuid4(), 1)])
    finally:
        await small_pool.close()
