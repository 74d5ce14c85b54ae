"""B2 webhooks: signed GitHub deliveries into Loopline's inbox vs a bare Litestar endpoint
that only inserts the raw body (same server settings); 8 concurrent senders, and latency
at a steady 200 deliveries/s."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from bench.harness import Context
from bench.servers import running

SECRET = "bench-webhook-secret-0123456789"
REPOSITORY = "acme/billing"
SENDERS = 8
RATE = 200.0


def _body(n: int) -> bytes:
    sha = hashlib.sha1(str(n).encode()).hexdigest()
    return json.dumps(
        {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": sha,
            "repository": {"full_name": REPOSITORY},
            "commits": [{"id": sha, "timestamp": "2024-05-01T09:00:00Z", "message": f"change {n}"}],
            "head_commit": {"id": sha, "timestamp": "2024-05-01T09:00:00Z"},
        }
    ).encode()


def _headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": str(uuid.uuid4()),
        "x-hub-signature-256": f"sha256={digest}",
    }


async def _prepare(dsn: str) -> None:
    from domain import services
    from infra.eventstore import PostgresEventStore
    from infra.settings import load_settings
    from server.webhooks.integrations import add_integration

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE bench_raw (id bigserial PRIMARY KEY, body bytea)")
            await add_integration(conn, source="github", secret=SECRET, repositories=[REPOSITORY])
        store = PostgresEventStore.from_pool(pool, load_settings({}, database_url=dsn))
        await services.form_team(store, slug="billing", name="Billing")
        await services.own_repository(store, "billing", repository=REPOSITORY)
    finally:
        await pool.close()


Send = Callable[[int], Awaitable[float]]


async def _throughput(send: Send, total: int) -> float:
    counter = iter(range(total))

    async def sender() -> None:
        for n in counter:
            await send(n)

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return total / (time.perf_counter() - began)


async def _steady(send: Send, seconds: float) -> list[float]:
    """Open loop: one delivery every 1/RATE s whatever the answers do; their latencies."""
    latencies: list[float] = []
    tasks = []
    began = time.perf_counter()
    for n in range(int(RATE * seconds)):
        delay = began + n / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

        async def one(n: int = n) -> None:
            latencies.append(await send(1_000_000 + n))

        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return latencies


async def _measure(kind: str, dsn: str, quick: bool) -> tuple[float, float, float]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with (
        running(kind, dsn) as (base, _),
        httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client,
    ):

        async def send(n: int) -> float:
            body = _body(n)
            began = time.perf_counter()
            answer = await client.post("/webhooks/github", content=body, headers=_headers(body))
            elapsed = time.perf_counter() - began
            if answer.status_code != 202:
                raise RuntimeError(f"{kind}: {answer.status_code} {answer.text}")
            return elapsed

        await _throughput(send, 200)  # warm up
        rate = await _throughput(send, 1000 if quick else 5000)
        latencies = sorted(await _steady(send, 3.0 if quick else 10.0))
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return rate, p50, p99


async def run(ctx: Context) -> None:
    figures: dict[str, tuple[float, float, float]] = {}
    for kind in ("loopline", "webhook-baseline"):
        dsn = await ctx.fresh_database()
        await _prepare(dsn)
        figures[kind] = await _measure(kind, dsn, ctx.quick)
    ours, bare = figures["loopline"], figures["webhook-baseline"]
    ctx.record(
        f"B2-webhooks-{SENDERS}-senders",
        ours[0],
        "deliveries/s",
        baseline="bare Litestar insert of the body",
        baseline_figure=bare[0],
        target=">= 1000/s",
        met=ours[0] >= 1000,
    )
    for label, index, target in (("p50", 1, None), ("p99", 2, 50.0)):
        ctx.record(
            f"B2-webhooks-{label}-at-{int(RATE)}/s",
            ours[index],
            "ms",
            baseline="bare Litestar insert of the body",
            baseline_figure=bare[index],
            target=f"<= {target:.0f} ms" if target else "(context)",
            met=target is None or ours[index] <= target,
            higher_is_better=False,
        )
