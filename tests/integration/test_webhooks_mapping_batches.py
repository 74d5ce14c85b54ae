"""The mapper claims due deliveries in batches: one transaction for many, one savepoint each,
so a bad delivery fails alone and a batch that never commits is mapped again, once."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from domain import services
from infra.eventstore import PostgresEventStore
from infra.settings import Settings
from server.webhooks.inbox import store_delivery
from server.webhooks.integrations import add_integration
from server.webhooks.worker import MappingWorker

REPOSITORY = "acme/billing"


def deployment(n: int) -> bytes:
    return json.dumps(
        {
            "type": "deployment",
            "id": f"deploy-{n}",
            "repository": REPOSITORY,
            "environment": "production",
            "status": "success",
            "version": f"2024.5.{n}",
            "finished_at": f"2024-05-01T10:{n:02d}:00Z",
        }
    ).encode()


async def deliver(pool: asyncpg.Pool, integration: Any, bodies: list[bytes]) -> list[int]:
    ids = []
    async with pool.acquire() as conn:
        for n, body in enumerate(bodies):
            stored = await store_delivery(
                conn,
                source="generic",
                delivery_id=f"msg-{n}",
                event="deployment",
                repository=REPOSITORY,
                integration_id=integration.id,
                headers={},
                body=body,
            )
            ids.append(stored.id)
    return ids


async def states(pool: asyncpg.Pool, ids: list[int]) -> list[tuple[str, str | None]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT state, reason FROM webhook_deliveries WHERE id = ANY($1::bigint[]) ORDER BY id",
            ids,
        )
    return [(r["state"], r["reason"]) for r in rows]


async def increments(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM stored_events WHERE topic LIKE '%Increment.Recorded'"
        )
    return count


async def prepare(pool: asyncpg.Pool, event_store: PostgresEventStore) -> Any:
    await services.form_team(event_store, slug="billing", name="Billing")
    await services.own_repository(event_store, "billing", repository=REPOSITORY)
    async with pool.acquire() as conn:
        return await add_integration(
            conn, source="generic", secret="not-a-real-secret", repositories=[REPOSITORY]
        )


async def test_one_batch_maps_every_due_delivery_and_a_bad_one_fails_alone(
    pool: asyncpg.Pool, event_store: PostgresEventStore, settings: Settings
) -> None:
    integration = await prepare(pool, event_store)
    bodies = [deployment(1), deployment(2), b"{not json", deployment(3), deployment(4)]
    ids = await deliver(pool, integration, bodies)
    worker = MappingWorker(pool, event_store, settings)

    assert await worker.map_batch(3) == 3  # at most the batch's size is claimed
    assert await worker.map_batch(32) == 2  # the rest, in one more transaction
    assert await worker.map_batch(32) == 0
    found = await states(pool, ids)
    assert [state for state, _ in found] == ["mapped", "mapped", "failed", "mapped", "mapped"]
    assert "not JSON" in (found[2][1] or "")
    assert await increments(pool) == 4


async def test_a_batch_that_does_not_commit_is_mapped_again_without_duplicates(
    pool: asyncpg.Pool, event_store: PostgresEventStore, settings: Settings
) -> None:
    integration = await prepare(pool, event_store)
    ids = await deliver(pool, integration, [deployment(n) for n in range(1, 6)])
    worker = MappingWorker(pool, event_store, settings)

    # The batch's domain commands commit on their own; its settlements are lost with it,
    # as when the process is killed before the commit.
    class Lost(Exception):
        pass

    original = worker._map

    async def map_then_lose(conn: Any, claimed: Any) -> None:
        await original(conn, claimed)
        if claimed.id == ids[-1]:
            raise Lost

    worker._map = map_then_lose  # type: ignore[method-assign]
    try:
        await worker.map_batch(32)
    except Lost:
        pass
    else:
        raise AssertionError("the batch was expected to be lost")
    assert [state for state, _ in await states(pool, ids)] == ["pending"] * 5
    assert await increments(pool) == 5

    worker._map = original  # type: ignore[method-assign]
    assert await worker.drain() == 5
    assert [state for state, _ in await states(pool, ids)] == ["mapped"] * 5
    assert await increments(pool) == 5
