"""The pool lends connections back without a reset round trip, and still safely."""

from __future__ import annotations

import asyncpg


async def test_a_released_connection_costs_no_query_and_keeps_no_transaction(
    pool: asyncpg.Pool, database_url: str
) -> None:
    async with pool.acquire() as conn:
        pid = conn.get_server_pid()
        await conn.execute("SELECT 41 + 1")
        # A transaction left open by mistake is rolled back on release all the same.
        await conn.execute("BEGIN")
        await conn.execute("CREATE TEMP TABLE left_behind (x int)")
    observer = await asyncpg.connect(database_url)
    try:
        row = await observer.fetchrow(
            "SELECT state, query FROM pg_stat_activity WHERE pid = $1", pid
        )
    finally:
        await observer.close()
    assert row is not None
    # The last thing that connection ran was the rollback, not asyncpg's reset query.
    assert (row["state"], row["query"]) == ("idle", "ROLLBACK")
    async with pool.acquire() as again:
        assert not again.is_in_transaction()
        assert await again.fetchval("SELECT to_regclass('pg_temp.left_behind')") is None
