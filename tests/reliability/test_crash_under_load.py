"""SIGKILL the API process at random moments under a load of webhooks and commands: every
request it acknowledged is stored and mapped exactly once, and the read models it left
behind equal a clean rebuild."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from domain import services
from infra.eventstore import PostgresEventStore
from infra.settings import Settings
from server.webhooks.integrations import add_integration
from tests.conftest import ADMIN_TOKEN
from tests.processes import free_port, kill_and_reap, loopline_env, wait_healthy
from tests.reliability.harness import caught_up, rebuilt, record, scaled, start_logged
from tests.reliability.load import REPOSITORY, TEAM, check_nothing_lost, run_load, settled
from tests.webhook_senders import SECRET

pytestmark = pytest.mark.reliability

KILLS = scaled(4, 30)
CLIENTS = 8


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        kill_and_reap(process)


async def test_sigkill_under_load_loses_and_duplicates_nothing(
    database_url: str,
    pool: asyncpg.Pool,
    event_store: PostgresEventStore,
    settings: Settings,
    processes: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    await services.form_team(event_store, slug=TEAM, name="Billing")
    await services.own_repository(event_store, TEAM, repository=REPOSITORY)
    async with pool.acquire() as conn:
        await add_integration(conn, source="github", secret=SECRET, repositories=[REPOSITORY])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = loopline_env(
        DATABASE_URL=database_url,
        LOOPLINE_PORT=str(port),
        LOOPLINE_ADMIN_TOKEN=ADMIN_TOKEN,
        LOOPLINE_POLL_INTERVAL="0.2",
        LOOPLINE_WEBHOOK_RETRY_BACKOFF="0.2",
        LOOPLINE_RATE_LIMIT_WEBHOOKS="0",  # eight clients deliver as fast as they can
    )

    async def serve() -> subprocess.Popen[str]:
        process = start_logged("serve", env=env, log=tmp_path / "serve.log")
        processes.append(process)
        await asyncio.to_thread(wait_healthy, url, process)
        return process

    api = await serve()
    rng = random.Random(10)
    stop = asyncio.Event()
    load = asyncio.create_task(run_load(url, CLIENTS, stop))
    # The API process dies without warning, again and again, and is started again.
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(0.3, 1.5))
        api.send_signal(signal.SIGKILL)
        await asyncio.to_thread(api.wait)
        api = await serve()
    await asyncio.sleep(1.0)
    stop.set()
    seen = await load
    assert seen.problems_not_json == 0
    # 412: a triage retried after a kill had been stored before it (If-Match caught it).
    assert set(seen.statuses) <= {200, 201, 202, 412, 503}, seen.statuses
    # The last process maps whatever was stored but not yet mapped, then stops.
    await settled(pool, within=60)
    api.terminate()
    await asyncio.to_thread(api.wait, 30)
    # Every acknowledged request is stored once; the read models equal a clean rebuild.
    events = await check_nothing_lost(pool, seen)
    live = await caught_up(settings, database_url, pool)
    assert await rebuilt(settings, database_url, pool) == live
    record(
        "crash_under_load",
        requests_acknowledged=seen.total,
        faults_injected=KILLS,
        requests_refused_or_cut=seen.transport_errors + seen.statuses[503],
        events_checked=events,
        read_model_tables_compared=len(live),
        lost=0,
        duplicated=0,
    )
