"""Cached metric answers last exactly as long as the read models they summarise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from domain import services
from infra.eventstore import PostgresEventStore
from projections.cache import ReadModelCache
from projections.catalog import all_projections
from projections.runner import ProjectionRunner


async def test_an_answer_is_reused_until_the_projection_moves_on(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    runner = ProjectionRunner(
        database_url, event_store.recorder, event_store.mapper, all_projections()
    )
    await runner.catch_up()
    cache = ReadModelCache()
    calls = []

    async def compute() -> int:
        calls.append(1)
        return len(calls)

    async with pool.acquire() as conn:
        # The same question twice: computed once.
        assert await cache.get(conn, ["feedback"], "q", compute) == 1
        assert await cache.get(conn, ["feedback"], "q", compute) == 1
        assert (cache.hits, cache.misses) == (1, 1)
        # Another question is another entry.
        assert await cache.get(conn, ["feedback"], "other", compute) == 2
    # A new event reaches the projection: the old answer is not served again.
    await services.receive_feedback(event_store, channel="web", text="new ask")
    await runner.catch_up()
    async with pool.acquire() as conn:
        assert await cache.get(conn, ["feedback"], "q", compute) == 3


async def test_the_lead_time_endpoint_never_answers_stale_figures(api: httpx.AsyncClient) -> None:
    received = datetime.now(UTC) - timedelta(days=2)
    await api.post("/api/teams", json={"slug": "web", "name": "Web"})
    first = (
        await api.post(
            "/api/feedback",
            json={"text": "a", "channel": "web", "received_at": received.isoformat()},
        )
    ).json()
    triaged = (await api.post(f"/api/feedback/{first['key']}/triage", json={"team": "web"})).json()
    params = {"measure": "triage", "after": str(triaged["position"])}
    once = (await api.get("/api/metrics/lead-time", params=params)).json()
    again = (await api.get("/api/metrics/lead-time", params=params)).json()
    assert once == again
    assert once["groups"][0]["count"] == 1
    # A second item triaged: the next answer counts it.
    second = (await api.post("/api/feedback", json={"text": "b", "channel": "web"})).json()
    moved = (await api.post(f"/api/feedback/{second['key']}/triage", json={"team": "web"})).json()
    later = await api.get(
        "/api/metrics/lead-time", params={"measure": "triage", "after": str(moved["position"])}
    )
    assert later.json()["groups"][0]["count"] == 2
