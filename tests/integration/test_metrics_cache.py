"""Cached metric answers last exactly as long as the read models they summarise."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from domain import services
from infra.eventstore import PostgresEventStore
from projections.cache import ReadModelCache
from projections.catalog import all_projections
from projections.runner import ProjectionRunner


@pytest.fixture
async def runner(database_url: str, event_store: PostgresEventStore) -> ProjectionRunner:
    """The projections, caught up with the (empty) store."""
    runner = ProjectionRunner(
        database_url, event_store.recorder, event_store.mapper, all_projections()
    )
    await runner.catch_up()
    return runner


def counting() -> Callable[[object], Awaitable[int]]:
    """A computation answering how many times it ran."""
    calls = 0

    async def compute(conn: object) -> int:
        nonlocal calls
        calls += 1
        return calls

    return compute


async def test_an_answer_is_reused_until_the_projection_moves_on(
    runner: ProjectionRunner, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    cache = ReadModelCache()
    compute = counting()

    # The same question twice: computed once.
    assert await cache.get(pool, ["feedback"], "q", compute) == 1
    assert await cache.get(pool, ["feedback"], "q", compute) == 1
    assert (cache.hits, cache.misses) == (1, 1)
    # Another question is another entry.
    assert await cache.get(pool, ["feedback"], "other", compute) == 2
    # A new event reaches the projection: the old answer is not served again.
    await services.receive_feedback(event_store, channel="web", text="new ask")
    await runner.catch_up()
    assert await cache.get(pool, ["feedback"], "q", compute) == 3


async def test_while_notices_are_heard_a_hit_needs_no_database_and_a_notice_ends_it(
    runner: ProjectionRunner,
    database_url: str,
    event_store: PostgresEventStore,
    pool: asyncpg.Pool,
) -> None:
    cache = ReadModelCache()
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(
        cache.channel, lambda _c, _p, _ch, payload: heard.put_nowait(str(payload))
    )
    cache.hearing(True)
    compute = counting()

    try:
        assert await cache.get(pool, ["feedback"], "q", compute) == 1
        # A hit with no connection to spare: it did not touch the pool.
        held = [await pool.acquire() for _ in range(pool.get_max_size())]
        try:
            assert await asyncio.wait_for(cache.get(pool, ["feedback"], "q", compute), 1) == 1
        finally:
            for conn in held:
                await pool.release(conn)
        # A projection commits: its notice ends the answer.
        await services.receive_feedback(event_store, channel="web", text="new ask")
        await runner.catch_up()
        cache.heard(await asyncio.wait_for(heard.get(), 5))
        assert await cache.get(pool, ["feedback"], "q", compute) == 2
        # Read-your-writes requests always check the positions.
        assert await cache.get(pool, ["feedback"], "q", compute, fresh=True) == 3
    finally:
        await listener.close()


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


async def test_without_after_a_cached_answer_ends_when_the_projections_move_on(
    api: httpx.AsyncClient,
) -> None:
    await api.post("/api/teams", json={"slug": "web", "name": "Web"})
    first = (await api.post("/api/feedback", json={"text": "a", "channel": "web"})).json()
    done = (await api.post(f"/api/feedback/{first['key']}/triage", json={"team": "web"})).json()
    params = {"measure": "triage"}
    await api.get("/api/metrics/lead-time", params={**params, "after": str(done["position"])})
    # Asked again and again without `after`: served from memory, the same answer.
    answers = [(await api.get("/api/metrics/lead-time", params=params)).json() for _ in range(3)]
    assert [a["groups"][0]["count"] for a in answers] == [1, 1, 1]
    second = (await api.post("/api/feedback", json={"text": "b", "channel": "web"})).json()
    await api.post(f"/api/feedback/{second['key']}/triage", json={"team": "web"})
    # The projections' notice ends the cached answer: the new count shows up by itself.
    for _ in range(100):
        answer = (await api.get("/api/metrics/lead-time", params=params)).json()
        if answer["groups"][0]["count"] == 2:
            break
        await asyncio.sleep(0.05)
    assert answer["groups"][0]["count"] == 2
