"""DORA's lead time for changes without sorting every commit: the per-day lead bucket counts
the delivery projection keeps batch by batch equal the ones a rebuild computes, and the
answer equals count, avg and percentile_cont over the same commits, for any window."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from domain.services import (
    form_team,
    mark_increment_failed,
    own_repository,
    roll_back_increment,
)
from infra.eventstore import PostgresEventStore
from projections.metrics import _DORA, SUMMARY, dora_periods
from projections.runner import request_rebuild
from tests.integration.test_metrics import T0, at, deploy, project

# The same commits, selected like DORA selects them: first deployed in [since, until).
REFERENCE = f"""
SELECT {SUMMARY}
FROM (SELECT lead_seconds AS span FROM read.commit_deployments
      WHERE ($1::text[] IS NULL OR service = ANY($1::text[]))
        AND deployed_at >= coalesce($2::timestamptz, '-infinity')
        AND deployed_at < coalesce($3::timestamptz, 'infinity')) x
"""

Window = tuple[datetime | None, datetime | None]


async def history(store: PostgresEventStore, rng: random.Random, batch: int) -> list[Any]:
    """A batch of deployments over three weeks, recorded in no particular order: commits
    carried again by later deployments, lead times from minutes to a month (some equal,
    some negative: authored after the deployment finished)."""
    ids = []
    for d in range(12):
        finished = at(rng.uniform(0, 21))
        commits = []
        for c in range(rng.randint(1, 4)):
            n = rng.randint(1, 60) if rng.random() < 0.3 else 1000 * batch + 10 * d + c
            lead = rng.choice([3600.0, 7200.0, rng.uniform(-600, 30 * 86_400)])
            commits.append((n, finished - timedelta(seconds=lead)))
        service = rng.choice(["payments-api", "search-api"])
        ids.append(await deploy(store, service, finished, commits))
    return ids


async def commit_days(pool: asyncpg.Pool) -> set[tuple[Any, ...]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT service, day, bucket, commits, seconds FROM read.commit_days"
        )
    return {tuple(r) for r in rows}


def windows(rng: random.Random) -> list[Window]:
    found: list[Window] = [(None, None), (at(2), None), (None, at(9)), (at(40), at(41))]
    for _ in range(24):
        start = at(rng.uniform(-1, 21))
        found.append((start, start + timedelta(hours=rng.uniform(1, 21 * 24))))
    # Whole days only (midnight to midnight), and a window within one day.
    midnight = datetime(T0.year, T0.month, T0.day, tzinfo=T0.tzinfo)
    found += [(midnight, midnight + timedelta(days=7)), (at(3), at(3, hours=5))]
    return found


async def assert_answers_agree(pool: asyncpg.Pool, rng: random.Random) -> None:
    chosen = windows(rng)
    async with pool.acquire() as conn:
        for team, services in (("payments", ["payments-api"]), (None, None)):
            starts = [s for s, _ in chosen]
            ends = [e for _, e in chosen]
            # Every percentile the statement gives, for every window at once (a series),
            raw = await conn.fetch(_DORA[services is not None], services, starts, ends, None)
            answers = await dora_periods(conn, chosen, team=team)
            for (start, end), row, answer in zip(chosen, raw, answers, strict=True):
                expected = await conn.fetchrow(REFERENCE, services, start, end)
                assert expected is not None
                lead = answer.lead_time_for_changes
                assert lead.count == row["change_count"] == expected["count"], (start, end)
                # the percentiles exactly percentile_cont's,
                assert row["change_percentiles"] == expected["percentiles"], (start, end)
                ps = expected["percentiles"]
                assert (lead.p50, lead.p85) == ((ps[0], ps[2]) if ps else (None, None))
                # and the mean the same up to rounding (an exact sum here, avg's there).
                if expected["mean"] is None:
                    assert lead.mean is None
                else:
                    assert lead.mean is not None
                    assert math.isclose(lead.mean, expected["mean"], rel_tol=1e-12)


async def test_lead_time_for_changes_equals_percentile_cont_kept_and_rebuilt(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    rng = random.Random(18)
    # The projections are built (empty) first, so what follows is kept batch by batch.
    await project(database_url, event_store)
    await form_team(event_store, slug="payments", name="Payments", formed_at=at(-30))
    await own_repository(event_store, "payments", repository="payments-api", owned_at=at(-30))
    for batch in range(3):
        ids = await history(event_store, rng, batch)
        # Some stop counting: their commits fall to the next deployment carrying them.
        await roll_back_increment(event_store, ids[0], reason="errors", rolled_back_at=at(22))
        await mark_increment_failed(event_store, ids[1], reason="smoke test")
        await project(database_url, event_store)
        await assert_answers_agree(pool, rng)
    kept = await commit_days(pool)
    assert kept

    async with pool.acquire() as conn:
        await request_rebuild(conn, "delivery")
    await project(database_url, event_store)
    assert await commit_days(pool) == kept
    await assert_answers_agree(pool, rng)
