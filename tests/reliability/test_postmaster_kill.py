"""The embedded PostgreSQL's postmaster is killed (SIGKILL) under load: `loopline up` starts it
again on the same data directory, the API recovers by itself, and nothing it acknowledged is
lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from domain import services
from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.settings import load_settings
from server.webhooks.integrations import add_integration
from tests.conftest import ADMIN_TOKEN
from tests.processes import free_port, kill_and_reap, loopline_env, wait_healthy
from tests.reliability.harness import record, scaled, start_logged
from tests.reliability.load import REPOSITORY, TEAM, check_nothing_lost, run_load, settled
from tests.webhook_senders import SECRET

pytestmark = pytest.mark.reliability

KILLS = scaled(1, 5)
RECOVERY_BOUND = 60.0
"""Seconds within which the API must acknowledge a write again: the figure is recorded; the
bound is loose so that a loaded CI machine does not fail the test (unsupervised, the server
never comes back)."""


@pytest.fixture
def data_dir(embedded_dir: Path) -> Path:
    return embedded_dir / "data"


def postmaster(pgdata: Path) -> tuple[int, str]:
    """The running server's pid and the DSN of the loopline database, from postmaster.pid."""
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    pid, port, socket_dir = int(lines[0]), lines[3].strip(), lines[4].strip()
    return pid, f"postgresql://postgres@/loopline?host={socket_dir}&port={port}"


async def prepare(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await add_integration(conn, source="github", secret=SECRET, repositories=[REPOSITORY])
    finally:
        await conn.close()
    settings = load_settings({}, database_url=dsn, pool_min_size=1)
    pool = await create_pool(settings, dsn)
    try:
        store = PostgresEventStore.from_pool(pool, settings)
        await services.form_team(store, slug=TEAM, name="Billing")
        await services.own_repository(store, TEAM, repository=REPOSITORY)
    finally:
        await pool.close()


async def test_postmaster_sigkill_under_load_recovers_and_loses_nothing_acknowledged(
    data_dir: Path,
) -> None:
    pgdata = data_dir / "pgdata"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = loopline_env(
        LOOPLINE_PORT=str(port),
        LOOPLINE_ADMIN_TOKEN=ADMIN_TOKEN,
        LOOPLINE_POLL_INTERVAL="0.2",
        LOOPLINE_WEBHOOK_RETRY_BACKOFF="0.2",
        LOOPLINE_RATE_LIMIT_WEBHOOKS="0",  # the load delivers as fast as it is answered
    )
    up = start_logged("up", "--data-dir", str(data_dir), env=env, log=data_dir.parent / "up.log")
    try:
        await asyncio.to_thread(wait_healthy, url, up, 180)
        await prepare(postmaster(pgdata)[1])
        stop = asyncio.Event()
        load = asyncio.create_task(run_load(url, 8, stop))
        recoveries: list[float] = []
        async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
            for _ in range(KILLS):
                await asyncio.sleep(2.0)
                # The postmaster dies at once, mid-load: no shutdown, no checkpoint.
                pid = postmaster(pgdata)[0]
                os.kill(pid, signal.SIGKILL)
                killed = time.monotonic()
                # `up` starts it again and the API acknowledges writes again by itself.
                while True:
                    assert up.poll() is None, "loopline up exited"
                    assert time.monotonic() - killed < RECOVERY_BOUND, "the API did not recover"
                    with contextlib.suppress(httpx.HTTPError):
                        answer = await probe.post(
                            "/api/feedback",
                            json={"text": "probe", "channel": "chat"},
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                        )
                        if answer.status_code == 201:
                            break
                    await asyncio.sleep(0.1)
                recoveries.append(time.monotonic() - killed)
            await asyncio.sleep(2.0)
            stop.set()
            seen = await load
            # Everything else recovered too: projections, workers, readiness.
            deadline = time.monotonic() + RECOVERY_BOUND
            while (ready := await probe.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, ready.text
                await asyncio.sleep(0.2)
        assert set(seen.statuses) <= {200, 201, 202, 412, 503}, seen.statuses
        assert seen.retry_after_missing == 0
        dsn = postmaster(pgdata)[1]
        pool = await create_pool(load_settings({}, database_url=dsn, pool_min_size=1), dsn)
        assert postmaster(pgdata)[0] != pid
        try:
            await settled(pool, within=60)
            events = await check_nothing_lost(pool, seen)
        finally:
            await pool.close()
        # The server stops with `up`, the last Loopline process using it.
        up.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(up.wait, 60) == 0
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        kill_and_reap(up)
    record(
        "postmaster_sigkill",
        requests_acknowledged=seen.total,
        faults_injected=KILLS,
        answers_503=seen.statuses[503],
        seconds_to_recover=[round(r, 1) for r in recoveries],
        events_checked=events,
        lost=0,
    )
