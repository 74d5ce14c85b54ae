"""A read-only database (a failover to a standby, a full disk set read-only by the operator):
writes answer a clear 503 and leave nothing half-written; reads go on; when it clears,
writes work again without a restart."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from domain import services
from infra.eventstore import PostgresEventStore
from server.webhooks.integrations import add_integration
from tests.reliability.harness import record
from tests.reliability.load import REPOSITORY, TEAM, deployment_status
from tests.webhook_senders import SECRET, encode, github_headers

pytestmark = pytest.mark.reliability


async def counts(conn: asyncpg.Connection) -> tuple[int, int, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT coalesce(max(notification_id), 0) FROM stored_events) AS head, "
        "(SELECT count(*) FROM webhook_deliveries) AS deliveries, "
        "(SELECT count(*) FROM api_tokens) AS tokens"
    )
    assert row is not None
    return row["head"], row["deliveries"], row["tokens"]


async def set_read_only(conn: asyncpg.Connection, on: bool) -> None:
    database = await conn.fetchval("SELECT current_database()")
    if on:
        await conn.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        # Sessions pick the default up when they start: end Loopline's current ones.
        await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    else:
        await conn.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')


async def test_writes_answer_503_while_read_only_and_work_again_after(
    api: httpx.AsyncClient, database_url: str, event_store: PostgresEventStore
) -> None:
    await services.form_team(event_store, slug=TEAM, name="Billing")
    await services.own_repository(event_store, TEAM, repository=REPOSITORY)
    admin = await asyncpg.connect(database_url)
    try:
        await add_integration(admin, source="github", secret=SECRET, repositories=[REPOSITORY])
        written = await api.post("/api/feedback", json={"text": "before", "channel": "chat"})
        assert written.status_code == 201, written.text
        key = written.json()["key"]
        before = await counts(admin)
        await set_read_only(admin, True)
        # Every kind of write is refused with a 503 that says why, and Retry-After.
        content = encode(deployment_status(77))
        attempts = [
            ("/api/feedback", {"json": {"text": "during", "channel": "chat"}}),
            (f"/api/feedback/{key}/triage", {"json": {"team": TEAM}}),
            ("/api/tokens", {"json": {"name": "x", "role": "admin", "teams": []}}),
            (
                "/webhooks/github",
                {"content": content, "headers": github_headers(content, "deployment_status")},
            ),
        ]
        refused = 0
        for path, request in attempts:
            for _ in range(3):  # the first may meet a connection ended above
                answer = await api.post(path, **request)  # type: ignore[arg-type]
                assert answer.status_code == 503, (path, answer.text)
                assert answer.headers["retry-after"]
                assert answer.headers["content-type"].startswith("application/problem+json")
                refused += 1
            assert "read-only" in answer.json()["detail"], answer.text
        # Reads go on.
        read = await api.get(f"/api/feedback/{key}")
        assert read.status_code == 200, read.text
        # Nothing was half-written.
        assert await counts(admin) == before
        # The operator makes it writable again: writes recover without a restart.
        await set_read_only(admin, False)
        deadline = time.monotonic() + 3
        while True:
            answer = await api.post("/api/feedback", json={"text": "after", "channel": "chat"})
            if answer.status_code == 201:
                break
            assert answer.status_code == 503, answer.text
            assert time.monotonic() < deadline, f"still refused: {answer.text}"
            await asyncio.sleep(0.2)
        recovered = time.monotonic() - (deadline - 3)
        delivered = await api.post(
            "/webhooks/github",
            content=content,
            headers=github_headers(content, "deployment_status"),
        )
        assert delivered.status_code == 202, delivered.text
    finally:
        await set_read_only(admin, False)
        await admin.close()
    record(
        "read_only",
        faults_injected=1,
        writes_refused_503=refused,
        partial_writes=0,
        seconds_to_recover=round(recovered, 1),
        lost=0,
    )
