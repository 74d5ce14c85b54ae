"""Incident ties kept by the delivery projection: an incident's tie to the deployment that
caused it moves as later-recorded deployments (imported history) and causes arrive, and the
ties kept batch by batch are the ones a rebuild computes at once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from domain.increment import Commit
from domain.services import (
    attribute_incident_cause,
    form_team,
    open_incident,
    own_repository,
    record_increment,
    resolve_incident,
)
from infra.eventstore import PostgresEventStore
from projections.metrics import dora, dora_daily
from projections.runner import request_rebuild
from tests.integration.test_metrics import H, at, deploy, project, sha


async def ties(pool: asyncpg.Pool) -> dict[UUID, tuple[Any, ...]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, tied_increment_id, tied_deployed_at, tied_rolled_back_at "
            "FROM read.incidents"
        )
    return {r["id"]: tuple(r)[1:] for r in rows}


async def marks(pool: asyncpg.Pool) -> dict[UUID, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, incidents FROM read.increments")
    return {r["id"]: r["incidents"] for r in rows}


async def test_ties_follow_history_recorded_later_and_agree_with_a_rebuild(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # The projections are built (empty) first, so everything below is kept batch by batch.
    await project(database_url, event_store)
    await form_team(event_store, slug="payments", name="Payments", formed_at=at(-30))
    await own_repository(event_store, "payments", repository="payments-api", owned_at=at(-30))

    # D1 deploys on day 0; an incident opens on day 2 with no cause: it is D1's.
    d1 = await deploy(event_store, "payments-api", at(0), [(1, at(-1))])
    i1 = await open_incident(event_store, service="payments-api", title="5xx", opened_at=at(2))
    await resolve_incident(event_store, i1.id, resolved_at=at(2, hours=3))
    await project(database_url, event_store)
    assert (await ties(pool))[i1.id][:2] == (d1, at(0))
    assert (await marks(pool))[d1] == 1

    # Imported history: D2 finished on day 1, recorded only now. The incident is D2's.
    d2 = await deploy(event_store, "payments-api", at(1), [(2, at(0, hours=20))])
    await project(database_url, event_store)
    assert (await ties(pool))[i1.id][:2] == (d2, at(1))
    assert (await marks(pool))[d1] == 0
    assert (await marks(pool))[d2] == 1

    # A second incident names a commit no deployment has carried yet: it falls back to the
    # last deployment before it (D2); when D3 carries that commit, it is D3's.
    i2 = await open_incident(
        event_store, service="payments-api", title="slow", opened_at=at(5), caused_by_sha=sha(9)
    )
    await project(database_url, event_store)
    assert (await ties(pool))[i2.id][0] == d2
    d3 = await deploy(event_store, "payments-api", at(4), [(9, at(3))])
    await project(database_url, event_store)
    assert (await ties(pool))[i2.id][0] == d3
    assert (await marks(pool))[d2] == 1

    # The first incident is attributed to D1 explicitly; D4 is recorded as D3's rollback,
    # and the second incident resolves after it.
    await attribute_incident_cause(event_store, i1.id, caused_by_increment=d1)
    d4 = await record_increment(
        event_store,
        service="payments-api",
        environment="production",
        commit_sha=sha(10),
        started_at=at(5, minutes=50),
        finished_at=at(5, hours=1),
        succeeded=True,
        commits=[Commit(sha=sha(10), authored_at=at(5), message="revert")],
        rolls_back=[d3],
    )
    await resolve_incident(event_store, i2.id, resolved_at=at(5, hours=3))
    await project(database_url, event_store)
    kept = await ties(pool)
    assert kept[i1.id] == (d1, at(0), None)
    assert kept[i2.id] == (d3, at(4), at(5, hours=1))
    assert {d: n for d, n in (await marks(pool)).items() if n} == {d1: 1, d3: 1}
    async with pool.acquire() as conn:
        answer = await dora(conn, team="payments", start=at(0), end=at(10), now=at(10))
        days = await dora_daily(conn, team="payments", start=at(0), end=at(10))
    assert (answer.change_failure_rate.failed, answer.change_failure_rate.deployments) == (2, 4)
    # D1 to the first incident's resolution, 51 hours; D3 to its rollback (before the
    # second incident resolved), 25 hours.
    assert answer.recovery_time.count == 2
    assert answer.recovery_time.p50 == 38 * H
    assert [(d.day, d.failed) for d in days] == [
        ("2026-03-02", 1),
        ("2026-03-03", 0),
        ("2026-03-06", 1),
        ("2026-03-07", 0),
    ]
    assert (await marks(pool))[d4.id] == 0

    # A rebuild ties every incident at once, to the same deployments.
    async with pool.acquire() as conn:
        await request_rebuild(conn, "delivery")
    await project(database_url, event_store)
    assert await ties(pool) == kept
    async with pool.acquire() as conn:
        assert await dora(conn, team="payments", start=at(0), end=at(10), now=at(10)) == answer
