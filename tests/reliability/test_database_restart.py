"""The embedded PostgreSQL restarts under load: meanwhile the API answers 503 with
Retry-After, afterwards it recovers by itself (pool, projections, webhook mapper, event
stream), and nothing it acknowledged is lost."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from domain import services
from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.settings import Settings, load_settings
from migrations.runner import migrate
from server.webhooks.integrations import add_integration
from tests.conftest import ADMIN_TOKEN
from tests.processes import free_port, kill_and_reap, loopline_env, wait_healthy
from tests.reliability.harness import (
    PrivateServer,
    caught_up,
    rebuilt,
    record,
    scaled,
    start_logged,
)
from tests.reliability.load import REPOSITORY, TEAM, check_nothing_lost, run_load, settled
from tests.webhook_senders import SECRET

pytestmark = pytest.mark.reliability

RESTARTS = scaled(1, 5)
DOWN = (3.0, 8.0)


@pytest.fixture
def private() -> Iterator[PrivateServer]:
    server = PrivateServer.start()
    try:
        yield server
    finally:
        server.close()


@contextlib.asynccontextmanager
async def opened(settings: Settings, dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings, dsn)
    try:
        yield pool
    finally:
        pool.terminate()


async def prepare(settings: Settings, dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        await add_integration(conn, source="github", secret=SECRET, repositories=[REPOSITORY])
    finally:
        await conn.close()
    async with opened(settings, dsn) as pool:
        store = PostgresEventStore.from_pool(pool, settings)
        await services.form_team(store, slug=TEAM, name="Billing")
        await services.own_repository(store, TEAM, repository=REPOSITORY)


async def changes_seen(url: str, positions: list[int]) -> None:
    """Follow the live stream (reconnecting like a TUI) and note each change's position."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=None) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                async with client.stream("GET", "/api/events/stream") as response:
                    async for line in response.aiter_lines():
                        if line.startswith("id:"):
                            positions.append(int(line[3:].strip()))
            await asyncio.sleep(0.2)


async def test_restart_of_the_database_under_load_loses_nothing_acknowledged(
    private: PrivateServer, tmp_path: Path
) -> None:
    dsn = private.dsn
    settings = load_settings(
        {}, database_url=dsn, data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN
    )
    await prepare(settings, dsn)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = loopline_env(
        DATABASE_URL=dsn,
        LOOPLINE_PORT=str(port),
        LOOPLINE_ADMIN_TOKEN=ADMIN_TOKEN,
        LOOPLINE_POLL_INTERVAL="0.2",
        LOOPLINE_WEBHOOK_RETRY_BACKOFF="0.2",
        LOOPLINE_RATE_LIMIT_WEBHOOKS="0",  # eight clients deliver as fast as they can
    )
    api = start_logged("serve", env=env, log=tmp_path / "serve.log")
    try:
        await asyncio.to_thread(wait_healthy, url, api)
        stop = asyncio.Event()
        positions: list[int] = []
        stream = asyncio.create_task(changes_seen(url, positions))
        load = asyncio.create_task(run_load(url, 8, stop))
        down_answers: list[httpx.Response] = []
        recoveries: list[float] = []
        async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
            for _ in range(RESTARTS):
                await asyncio.sleep(2.0)
                # The database goes away for a few seconds under load.
                await asyncio.to_thread(private.stop)
                began = time.monotonic()
                while time.monotonic() - began < DOWN[0]:
                    answer = await probe.post(
                        "/api/feedback",
                        json={"text": "while down", "channel": "chat"},
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    )
                    down_answers.append(answer)
                    await asyncio.sleep(0.2)
                await asyncio.to_thread(private.resume)
                restarted = time.monotonic()
                # It comes back by itself: /readyz says ready again.
                while (await probe.get("/readyz")).status_code != 200:
                    assert time.monotonic() - restarted < 30, (await probe.get("/readyz")).text
                    await asyncio.sleep(0.2)
                recoveries.append(time.monotonic() - restarted)
                head_before_last = max(positions, default=0)
            await asyncio.sleep(2.0)
            stop.set()
            seen = await load
            # The live stream carried changes after the restart, too.
            written = await probe.post(
                "/api/feedback",
                json={"text": "after", "channel": "chat"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert written.status_code == 201, written.text
            deadline = time.monotonic() + 10
            while max(positions, default=0) < written.json()["position"]:
                assert time.monotonic() < deadline, (
                    f"the event stream did not resume: {len(positions)} changes, "
                    f"last {max(positions, default=0)}, "
                    f"written {written.json()['position']}"
                )
                await asyncio.sleep(0.1)
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stream
        # Meanwhile: 503 with Retry-After, as problem+json, never anything else.
        assert down_answers
        for answer in down_answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"]
            assert answer.headers["content-type"].startswith("application/problem+json")
        assert seen.retry_after_missing == 0
        assert seen.problems_not_json == 0
        assert set(seen.statuses) <= {200, 201, 202, 412, 503}, seen.statuses
        async with opened(settings, dsn) as pool:
            await settled(pool, within=30)
            api.terminate()
            await asyncio.to_thread(api.wait, 30)
            events = await check_nothing_lost(pool, seen)
            async with pool.acquire() as conn:
                failed = await conn.fetchval(
                    "SELECT count(*) FROM projection_registry WHERE failed_position IS NOT NULL"
                )
            assert failed == 0
            live = await caught_up(settings, dsn, pool)
            assert await rebuilt(settings, dsn, pool) == live
    finally:
        kill_and_reap(api)
    record(
        "database_restart",
        requests_acknowledged=seen.total,
        faults_injected=RESTARTS,
        answers_while_down=len(down_answers),
        answers_503=seen.statuses[503] + len(down_answers),
        seconds_to_recover=[round(r, 1) for r in recoveries],
        stream_changes_after_recovery=sum(1 for p in positions if p > head_before_last),
        events_checked=events,
        lost=0,
    )
