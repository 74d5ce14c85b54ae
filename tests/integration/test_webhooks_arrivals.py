"""Deliveries that arrive together are stored by one insert: one transaction, one flush;
a delivery id seen twice is stored once; an unusable delivery fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from server.webhooks.arrivals import ArrivalWriter
from server.webhooks.inbox import Arrival
from server.webhooks.integrations import add_integration

REPOSITORY = "acme/billing"


@pytest.fixture
async def integration(pool: asyncpg.Pool) -> Any:
    async with pool.acquire() as conn:
        return await add_integration(
            conn, source="generic", secret="arrivals-secret-0123456789", repositories=[REPOSITORY]
        )


def arrival(integration: Any, delivery_id: str, source: str = "generic") -> Arrival:
    return Arrival(
        source=source,
        delivery_id=delivery_id,
        event="deployment",
        repository=REPOSITORY,
        integration_id=integration.id,
        headers={"webhook-id": delivery_id},
        body=f'{{"id": "{delivery_id}"}}'.encode(),
    )


async def transactions(pool: asyncpg.Pool) -> dict[str, str]:
    """Each stored delivery id → the transaction that inserted it."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT delivery_id, xmin::text AS tx FROM webhook_deliveries")
    return {row["delivery_id"]: row["tx"] for row in rows}


async def test_deliveries_arriving_together_share_one_insert(
    pool: asyncpg.Pool, integration: Any
) -> None:
    writer = ArrivalWriter(pool)
    # Six deliveries arrive at once (no flush can start before all six wait).
    stored = await asyncio.gather(*(writer.store(arrival(integration, f"m-{n}")) for n in range(6)))
    # Each has its own row, none a duplicate, and one transaction holds them all.
    assert len({s.id for s in stored}) == 6
    assert not any(s.duplicate for s in stored)
    assert len(set((await transactions(pool)).values())) == 1
    # A lone delivery later is stored at once, in a transaction of its own.
    alone = await writer.store(arrival(integration, "m-late"))
    assert not alone.duplicate
    held = await transactions(pool)
    assert held["m-late"] != held["m-0"]


async def test_a_delivery_id_twice_in_a_batch_or_known_before_is_stored_once(
    pool: asyncpg.Pool, integration: Any
) -> None:
    writer = ArrivalWriter(pool)
    # A delivery stored earlier.
    known = await writer.store(arrival(integration, "known"))
    # Then a batch repeating it, with a new id sent twice and the same id from another source.
    stored = await asyncio.gather(
        writer.store(arrival(integration, "known")),
        writer.store(arrival(integration, "new")),
        writer.store(arrival(integration, "new")),
        writer.store(arrival(integration, "new", source="github")),
    )
    # The known one answers its row, a duplicate; the new id is stored by its first arrival.
    assert (stored[0].id, stored[0].duplicate) == (known.id, True)
    assert (stored[1].duplicate, stored[2].duplicate) == (False, True)
    assert stored[1].id == stored[2].id
    assert not stored[3].duplicate
    assert stored[3].id != stored[1].id
    async with pool.acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM webhook_deliveries")
    assert count == 3


async def test_an_unusable_delivery_fails_alone(pool: asyncpg.Pool, integration: Any) -> None:
    writer = ArrivalWriter(pool)
    # Three deliveries arrive together; PostgreSQL refuses text with a NUL in the middle one.
    results = await asyncio.gather(
        writer.store(arrival(integration, "fine-1")),
        writer.store(arrival(integration, "bad\x00id")),
        writer.store(arrival(integration, "fine-2")),
        return_exceptions=True,
    )
    # The other two are stored; the unusable one is an error for its sender alone.
    assert isinstance(results[1], asyncpg.PostgresError)
    assert set(await transactions(pool)) == {"fine-1", "fine-2"}
