"""B4 metric queries: p50/p99 latency of the lead-time and DORA queries over the read
models, against computing the same figures straight from the events table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bench.data import START, Size, load
from bench.harness import Context
from bench.servers import ADMIN_TOKEN, running
from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.settings import load_settings
from projections.catalog import all_projections
from projections.worker import build_runner

# Time to triage recomputed from the stored events in one SQL statement: the baseline.
RAW_TRIAGE = """
WITH received AS (
    SELECT originator_id,
           (convert_from(state, 'UTF8')::jsonb ->> 'received_at')::timestamptz AS at
    FROM stored_events WHERE topic = 'domain.feedback:Feedback.Received'
), triaged AS (
    SELECT originator_id,
           min((convert_from(state, 'UTF8')::jsonb ->> 'triaged_at')::timestamptz) AS at
    FROM stored_events WHERE topic = 'domain.feedback:Feedback.Triaged'
    GROUP BY originator_id
)
SELECT count(*), avg(s), percentile_cont(ARRAY[0.5, 0.75, 0.85, 0.95])
       WITHIN GROUP (ORDER BY s)
FROM (SELECT extract(epoch FROM t.at - r.at) AS s
      FROM received r JOIN triaged t USING (originator_id)) spans
"""

RAW_DEPLOYMENTS = """
SELECT count(*), count(DISTINCT date_trunc('day', finished))
FROM (SELECT (convert_from(state, 'UTF8')::jsonb ->> 'finished_at')::timestamptz AS finished
      FROM stored_events WHERE topic = 'domain.increment:Increment.Recorded'
      AND (convert_from(state, 'UTF8')::jsonb ->> 'succeeded')::boolean) d
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latencies(call: Callable[[], Awaitable[Any]], repeat: int) -> list[float]:
    await call()  # warm the plan cache
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


async def run(ctx: Context) -> None:
    # The shape: 100,000 feedback items among about 1,000,000 events (the rest are
    # deployments with their commits and incidents); a twentieth of both with --quick.
    scale = 20 if ctx.quick else 1
    size = Size(teams=TEAMS, feedback=100_000 // scale, increments=600_000 // scale)
    repeat = 30 if ctx.quick else 100
    dsn = await ctx.fresh_database()
    settings = load_settings({}, database_url=dsn)
    pool = await create_pool(settings, dsn)
    try:
        written = await load(PostgresEventStore.from_pool(pool, settings), 4, size)
        await build_runner(settings, dsn, pool, all_projections()).catch_up()
        async with pool.acquire() as conn:
            items = await conn.fetchval("SELECT count(*) FROM read.feedback_items")
            print(f"    {written:,} events, {items:,} feedback items", flush=True)
            raw = {
                "lead-time": await latencies(lambda: conn.fetch(RAW_TRIAGE), 3),
                "dora": await latencies(lambda: conn.fetch(RAW_DEPLOYMENTS), 3),
            }
    finally:
        await pool.close()
    async with (
        running("loopline", dsn) as (base, _),
        aiohttp.ClientSession(
            base,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=aiohttp.ClientTimeout(total=60),
        ) as client,
    ):
        await _measure(ctx, client, raw, repeat)


FAR_FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
TEAMS = 6


def team_window(n: int) -> dict[str, str]:
    """The `n`th question never asked before: a team and a window of 2 to 12 weeks ending
    somewhere in the data's four months, both moved by `n` seconds so no two are alike (the
    cache never saw it)."""
    weeks = 2 + (n * 7) % 11
    end = START + timedelta(weeks=weeks, days=(n * 37) % 100, seconds=n)
    return {
        "team": f"team-{n % TEAMS}",
        "from": (end - timedelta(weeks=weeks)).isoformat(),
        "to": end.isoformat(),
    }


ENDPOINTS = {
    "lead-time": ("/api/metrics/lead-time", {"measure": "triage"}),
    "dora": ("/api/metrics/dora", {}),
}


async def _get(client: aiohttp.ClientSession, path: str, params: dict[str, str]) -> None:
    async with client.get(path, params=params) as answer:
        await answer.read()
        answer.raise_for_status()


async def _measure(
    ctx: Context, client: aiohttp.ClientSession, raw: dict[str, list[float]], repeat: int
) -> None:
    for name, (path, params) in ENDPOINTS.items():

        async def warm(path: str = path, params: dict[str, str] = params) -> None:
            await _get(client, path, params)

        asked: list[int] = []

        async def cold(
            path: str = path, params: dict[str, str] = params, asked: list[int] = asked
        ) -> None:
            # A window ending a different second each time (after all the data): the same
            # work as the all-time question, but one the cache has never seen.
            asked.append(len(asked))
            end = (FAR_FUTURE + timedelta(seconds=len(asked))).isoformat()
            await _get(client, path, {**params, "to": end})

        asked_new: list[int] = []

        async def new_question(
            path: str = path, params: dict[str, str] = params, asked: list[int] = asked_new
        ) -> None:
            await _get(client, path, {**params, **team_window(len(asked))})
            asked.append(len(asked))

        warm_samples = await latencies(warm, repeat)
        cold_samples = await latencies(cold, max(5, repeat // 5))
        new_samples = await latencies(new_question, repeat)
        raw_p50 = statistics.median(raw[name])
        p50, p99 = statistics.median(warm_samples), percentile(warm_samples, 0.99)
        ctx.record(
            f"B4-{name}-p50",
            p50,
            "ms",
            baseline="recomputed from stored_events (p50)",
            baseline_figure=raw_p50,
            target=">= 50x faster",
            met=raw_p50 >= 50 * p50,
            higher_is_better=False,
        )
        new_p50, new_p99 = statistics.median(new_samples), percentile(new_samples, 0.99)
        ctx.record(
            f"B4-{name}-cold-p50",
            new_p50,
            "ms",
            baseline="recomputed from stored_events (p50)",
            baseline_figure=raw_p50,
            target="<= 100 ms",
            met=new_p50 <= 100.0,
            higher_is_better=False,
        )
        ctx.record(
            f"B4-{name}-cold-p99",
            new_p99,
            "ms",
            baseline="cached answer, p50",
            baseline_figure=p50,
            target="<= 100 ms",
            met=new_p99 <= 100.0,
            higher_is_better=False,
        )
        ctx.record(
            f"B4-{name}-p99",
            p99,
            "ms",
            baseline="uncached (new question each time), p50",
            baseline_figure=statistics.median(cold_samples),
            target="<= 20 ms",
            met=p99 <= 20.0,
            higher_is_better=False,
        )
