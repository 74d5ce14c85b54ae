"""Each query declares the read models it reads (projections/reads.py); the cache keeps an
answer until one of them moves on, so a declaration that falls behind its SQL would keep
stale answers. The suite runs with the check on: a query naming a read model it does not
declare fails whichever test runs it."""

from __future__ import annotations

import importlib
import pkgutil

import asyncpg
import pytest

import projections
from infra.database import Connection
from infra.eventstore import PostgresEventStore
from projections import changes, feedback, metrics, nps, series, similar
from projections.catalog import all_projections
from projections.reads import DECLARED, ReadQuery, UndeclaredRead, tables_named
from tests.integration.test_metrics import project


async def _teams_and_items(conn: Connection) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM read.feedback_items f JOIN read.teams t ON t.id = f.team_id"
    )
    return count


async def test_a_query_reading_a_read_model_it_does_not_declare_fails(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await project(database_url, event_store)
    # Declared as reading only the feedback items, it also reads the directory's teams.
    misdeclared = ReadQuery(_teams_and_items, ("feedback",))
    async with pool.acquire() as conn:
        with pytest.raises(UndeclaredRead, match=r"teams \(of directory\)"):
            await misdeclared(conn)
        # Declared right, it answers.
        assert await ReadQuery(_teams_and_items, ("feedback", "directory"))(conn) == 0


async def test_a_query_calling_another_is_held_to_its_own_declaration_too(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await project(database_url, event_store)

    # DORA reads deployments; a caller declaring only the directory does not cover it.
    async def dashboard(conn: Connection) -> object:
        return await metrics.dora(conn, team="payments")

    async with pool.acquire() as conn:
        with pytest.raises(UndeclaredRead, match="increments"):
            await ReadQuery(dashboard, ("directory",))(conn)
        await ReadQuery(dashboard, ("delivery", "directory"))(conn)


def test_every_declaration_names_projections_that_exist() -> None:
    names = {p.name for p in all_projections()}
    assert DECLARED
    for query in DECLARED:
        assert query.reads, query.name
        assert set(query.reads) <= names, query.name


def test_each_query_lives_with_a_read_model_it_reads() -> None:
    # One home per read model: a query lives in the module of a read model it reads (the
    # one that owns its tables, their DDL and `apply`); only the figures that combine read
    # models (metrics.py, series.py) live apart from them.
    for found in pkgutil.iter_modules(projections.__path__, "projections."):
        importlib.import_module(found.name)
    homes = {type(p).__module__: p.name for p in all_projections()}
    apart: set[str] = set()
    for query in DECLARED:
        module = query.fn.__module__
        if module in homes:
            assert homes[module] in query.reads, query.name
        else:
            apart.add(module)
    assert apart == {"projections.metrics", "projections.series"}


def test_the_cached_queries_are_declared() -> None:
    # What the API caches (server/feedback.py, metrics.py, nps.py) is a declared query.
    cached = [
        feedback.list_feedback,
        similar.suggestions,
        metrics.lead_times,
        series.lead_time_series,
        series.dora_window,
        series.dora_series,
        changes.changes,
        nps.nps,
        nps.why,
        nps.follow_up_queue,
        nps.follow_ups,
    ]
    assert all(isinstance(q, ReadQuery) and q in DECLARED for q in cached)


def test_read_models_are_found_in_sql() -> None:
    sql = 'SELECT * FROM read.teams t JOIN read."feedback_items" f ON TRUE, read_only.x'
    assert tables_named(sql) == {"teams", "feedback_items"}
