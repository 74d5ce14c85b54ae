"""A delivery answered 2xx survives the process: killed before mapping, mapped after restart."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from domain import services
from infra.eventstore import PostgresEventStore
from server.webhooks.integrations import add_integration
from tests.conftest import ADMIN_TOKEN
from tests.processes import free_port, loopline_env, start_loopline, wait_healthy
from tests.webhook_senders import SECRET, encode, github_headers

REPOSITORY = "acme/billing"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def serve(database_url: str, port: int, delay: float, started: list[subprocess.Popen[str]]) -> str:
    env = loopline_env(
        DATABASE_URL=database_url,
        LOOPLINE_PORT=str(port),
        LOOPLINE_ADMIN_TOKEN=ADMIN_TOKEN,
        LOOPLINE_WEBHOOK_MAP_DELAY=str(delay),
        LOOPLINE_POLL_INTERVAL="0.1",
    )
    process = start_loopline("serve", env=env)
    started.append(process)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process)
    return url


async def state_of(pool: asyncpg.Pool, delivery: int) -> str:
    async with pool.acquire() as conn:
        return str(
            await conn.fetchval("SELECT state FROM webhook_deliveries WHERE id = $1", delivery)
        )


async def test_a_delivery_stored_before_a_kill_is_mapped_after_the_restart(
    database_url: str,
    pool: asyncpg.Pool,
    event_store: PostgresEventStore,
    processes: list[subprocess.Popen[str]],
) -> None:
    await services.form_team(event_store, slug="billing", name="Billing")
    await services.own_repository(event_store, "billing", repository=REPOSITORY)
    async with pool.acquire() as conn:
        await add_integration(conn, source="github", secret=SECRET, repositories=[REPOSITORY])
    # The server holds deliveries a minute before mapping them: time to kill it.
    port = free_port()
    url = serve(database_url, port, 60.0, processes)
    body = encode(
        {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": "a" * 40,
            "repository": {"full_name": REPOSITORY},
            "commits": [{"id": "a" * 40, "timestamp": "2024-05-01T09:00:00Z", "message": "x"}],
        }
    )
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{url}/webhooks/github", content=body, headers=github_headers(body, "push")
        )
    assert answer.status_code == 202, answer.text
    delivery = answer.json()["delivery"]
    processes[0].send_signal(signal.SIGKILL)
    processes[0].wait(10)
    assert await state_of(pool, delivery) == "pending"
    # Restarted without the delay, it resumes the stored delivery.
    serve(database_url, port, 0.0, processes)
    deadline = time.monotonic() + 20
    state = await state_of(pool, delivery)
    while state == "pending" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        state = await state_of(pool, delivery)
    assert state == "mapped"
