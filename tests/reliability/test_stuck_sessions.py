"""A transaction left open on the events table does not block appends forever, and /readyz
shows it while it lasts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from infra.database import server_settings
from infra.settings import Settings, load_settings
from tests.conftest import ADMIN_TOKEN, running_api
from tests.reliability.harness import record

pytestmark = pytest.mark.reliability

LOCK_TIMEOUT = 0.5
IDLE_TIMEOUT = 3.0


@pytest.fixture
def strict(database_url: str, tmp_path: Path) -> Settings:
    """Short timeouts, so that a stuck session shows within seconds."""
    return load_settings(
        {},
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_token=ADMIN_TOKEN,
        lock_timeout=LOCK_TIMEOUT,
        append_retries=12,
        idle_in_transaction_timeout=IDLE_TIMEOUT,
    )


async def head(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(notification_id), 0) FROM stored_events"))


async def lock_events(conn: asyncpg.Connection) -> None:
    """Take the events table lock the way an append does, and go idle in the transaction."""
    await conn.execute("BEGIN")
    await conn.execute("LOCK TABLE stored_events IN EXCLUSIVE MODE")


async def readiness_while(task: asyncio.Task[Any], client: httpx.AsyncClient) -> list[Any]:
    """/readyz answers, every 0.2 s, until `task` is done."""
    answers = []
    while not task.done():
        answers.append(await client.get("/readyz"))
        await asyncio.sleep(0.2)
    return answers


async def test_an_idle_loopline_session_holding_the_lock_is_ended_and_appends_go_through(
    strict: Settings, database_url: str
) -> None:
    with running_api(strict, database_url) as url:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
        ) as api:
            # A Loopline session (same session settings) takes the lock and hangs.
            stuck = await asyncpg.connect(database_url, server_settings=server_settings(strict))
            await lock_events(stuck)
            began = time.monotonic()
            # A write arrives meanwhile; /readyz is asked while it waits.
            write = asyncio.create_task(
                api.post("/api/feedback", json={"text": "stuck?", "channel": "chat"})
            )
            answers = await readiness_while(write, api)
            written = await write
            waited = time.monotonic() - began
            # PostgreSQL ended the idle session; the retried append then went through.
            assert written.status_code == 201, written.text
            assert IDLE_TIMEOUT <= waited < IDLE_TIMEOUT + 5
            assert stuck.is_closed() or not await _alive(stuck)
            # While it lasted, /readyz said which session held the lock, and for how long.
            flagged = [a for a in answers if a.status_code == 503]
            assert flagged, [a.text for a in answers]
            body = flagged[-1].json()
            conditions = {s["condition"] for s in body["stuck_sessions"]}
            assert {"holds-events-lock", "idle-in-transaction"} <= conditions
            assert any("holds the events table lock" in p for p in body["problems"])
            assert (await api.get("/readyz")).status_code == 200
    record(
        "stuck_session_ended",
        faults_injected=1,
        requests_acknowledged=1,
        seconds_waited=round(waited, 1),
        readyz_503_answers=len(flagged),
        lost=0,
    )


async def _alive(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        return False
    return True


async def test_a_foreign_session_holding_the_lock_gets_a_503_and_nothing_half_written(
    strict: Settings, database_url: str
) -> None:
    impatient = msgspec.structs.replace(strict, append_retries=4)
    with running_api(impatient, database_url) as url:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
        ) as api:
            # An operator's session (no idle timeout of ours) takes the lock and forgets it.
            operator = await asyncpg.connect(database_url)
            try:
                before = await head(operator)
                await lock_events(operator)
                began = time.monotonic()
                write = asyncio.create_task(
                    api.post("/api/feedback", json={"text": "blocked", "channel": "chat"})
                )
                answers = await readiness_while(write, api)
                refused = await write
                waited = time.monotonic() - began
                # The append gave up after its retries: a clear 503, not a hang or a 500.
                assert refused.status_code == 503, refused.text
                assert refused.headers["retry-after"]
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert "busy" in refused.json()["detail"]
                assert any(a.status_code == 503 for a in answers)
            finally:
                await operator.execute("ROLLBACK")
            assert await head(operator) == before
            # Once the lock is released, the same write goes through and /readyz is green.
            again = await api.post("/api/feedback", json={"text": "blocked", "channel": "chat"})
            assert again.status_code == 201, again.text
            assert (await api.get("/readyz")).status_code == 200
            await operator.close()
    record(
        "stuck_session_foreign",
        faults_injected=1,
        seconds_until_503=round(waited, 1),
        readyz_503_answers=sum(1 for a in answers if a.status_code == 503),
        partial_writes=0,
        lost=0,
    )
