"""16 writers commit and roll back at random, holding transactions open, while projection
workers are SIGKILLed at random: every consumer has seen every committed event exactly
once (its read model is the list of positions it saw, checked against the events table)."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from domain.team import Team
from infra.eventstore import create_mapper
from infra.recorder import AsyncpgRecorder
from tests.processes import kill_and_reap
from tests.reliability.harness import record, scaled_float
from tests.reliability.seen_worker import runner

pytestmark = pytest.mark.reliability

WRITERS = 16
CONSUMERS = ("a", "b", "c")
WORKERS = 2
DURATION = scaled_float(8.0, 120.0)
HOLD = scaled_float(0.5, 5.0)
"""Longest a writer keeps its transaction open before its insert, and (one time in five)
again after it, holding the events table lock."""
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Tally:
    committed: int = 0
    rolled_back: int = 0
    lock_timeouts: int = 0
    kills: int = 0


async def write(dsn: str, number: int, stop: asyncio.Event, tally: Tally) -> None:
    """Append a few events per transaction; hold it open; commit or roll back at random."""
    rng = random.Random(number)
    mapper = create_mapper()
    conn = await asyncpg.connect(dsn, server_settings={"lock_timeout": "2s"})
    recorder = AsyncpgRecorder(pool=None)  # type: ignore[arg-type]  # only `conn` is used
    try:
        while not stop.is_set():
            team = Team(
                slug=f"w{number}-{rng.randrange(10**9)}", name="Writer", formed_at=datetime.now(UTC)
            )
            for n in range(rng.randint(0, 3)):
                team.join(handle=f"h{n}", skills=("sql",), joined_at=datetime.now(UTC))
            stored = [mapper.to_stored_event(e) for e in team.collect_events()]
            rollback = rng.random() < 0.3
            try:
                async with conn.transaction():
                    await asyncio.sleep(rng.uniform(0, HOLD))
                    await recorder.append(stored, conn=conn)
                    if rng.random() < 0.2:
                        # Holding the table lock: the other writers wait, or time out.
                        await asyncio.sleep(rng.uniform(0, HOLD))
                    if rollback:
                        raise _RollBack
            except _RollBack:
                tally.rolled_back += 1
            except asyncpg.LockNotAvailableError:
                tally.lock_timeouts += 1
            else:
                tally.committed += len(stored)
    finally:
        await conn.close()


class _RollBack(Exception):
    pass


def start_worker(dsn: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.seen_worker", dsn, *CONSUMERS],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().startswith("projecting")
    return process


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        kill_and_reap(process)


async def test_every_consumer_sees_every_committed_event_exactly_once(
    database_url: str, pool: asyncpg.Pool, workers: list[subprocess.Popen[str]]
) -> None:
    rng = random.Random(16)
    running = [await asyncio.to_thread(start_worker, database_url) for _ in range(WORKERS)]
    workers.extend(running)
    stop = asyncio.Event()
    tally = Tally()
    writers = [asyncio.create_task(write(database_url, n, stop, tally)) for n in range(WRITERS)]
    # Workers die without warning at random moments and are started again.
    deadline = time.monotonic() + DURATION
    while time.monotonic() < deadline:
        await asyncio.sleep(rng.uniform(0.1, 0.8))
        victim = rng.randrange(WORKERS)
        running[victim].send_signal(signal.SIGKILL)
        await asyncio.to_thread(running[victim].wait)
        tally.kills += 1
        running[victim] = await asyncio.to_thread(start_worker, database_url)
        workers.append(running[victim])
    stop.set()
    await asyncio.gather(*writers)
    for process in running:
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait)
    # A last worker catches up; then each consumer's positions are exactly the store's.
    await runner(database_url, pool, CONSUMERS).catch_up()
    async with pool.acquire() as conn:
        expected = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(sum(notification_id), 0) AS total, "
            "coalesce(bit_xor(notification_id), 0) AS xor FROM stored_events"
        )
        assert expected is not None
        assert expected["n"] == tally.committed
        for name in CONSUMERS:
            seen = await conn.fetchrow(
                "SELECT count(*) AS n, count(DISTINCT position) AS distinct_n, "
                "coalesce(sum(position), 0) AS total, coalesce(bit_xor(position), 0) AS xor "
                f"FROM read.seen_{name}"
            )
            assert seen is not None
            assert seen["n"] == seen["distinct_n"], f"consumer {name} saw an event twice"
            assert (seen["n"], seen["total"], seen["xor"]) == tuple(expected), name
            missing = await conn.fetchval(
                f"SELECT count(*) FROM stored_events e WHERE NOT EXISTS "
                f"(SELECT 1 FROM read.seen_{name} s WHERE s.position = e.notification_id)"
            )
            assert missing == 0, f"consumer {name} missed {missing} events"
        gaps = await conn.fetchval("SELECT max(notification_id) - count(*) FROM stored_events")
    record(
        "ordering_chaos",
        writers=WRITERS,
        events_committed=tally.committed,
        transactions_rolled_back=tally.rolled_back,
        lock_timeouts=tally.lock_timeouts,
        notification_id_gaps=int(gaps),
        faults_injected=tally.kills,
        consumers=len(CONSUMERS),
        events_checked=tally.committed * len(CONSUMERS),
        lost=0,
        duplicated=0,
    )
