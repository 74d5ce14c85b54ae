"""A projection batch's rows: new ones copied in, known ones upserted, each written once."""

from __future__ import annotations

import asyncpg

from infra.database import Connection
from projections.rows import Rows

COLUMNS = ("id", "name", "status")


async def table(conn: Connection) -> list[tuple[int, str, str | None]]:
    rows = await conn.fetch("SELECT id, name, status FROM rows_test ORDER BY id")
    return [(r["id"], r["name"], r["status"]) for r in rows]


async def test_new_rows_are_copied_and_known_ones_upserted(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE rows_test (id int PRIMARY KEY, name text NOT NULL, status text)"
        )
        await conn.execute("INSERT INTO rows_test VALUES (1, 'one', 'old'), (2, 'two', 'old')")

        rows = Rows("rows_test", "id", COLUMNS)
        await rows.load(conn, [1, 2, 3, 4])
        rows.change(1, status="changed")
        # Added although the table has it (a projection meeting a creation twice): upserted.
        rows.add({"id": 2, "name": "two again"})
        rows.add({"id": 3, "name": "three"})
        rows.add({"id": 4, "name": "four"})
        rows.change(4, status="changed in the same batch")
        assert rows.change(5, status="unknown") is None
        await rows.flush(conn)
        assert await table(conn) == [
            (1, "one", "changed"),
            (2, "two again", None),
            (3, "three", None),
            (4, "four", "changed in the same batch"),
        ]

        # Added without being looked for: the table may have it, so it is upserted.
        rows = Rows("rows_test", "id", COLUMNS)
        rows.add({"id": 1, "name": "one again"})
        await rows.flush(conn)
        assert (await table(conn))[0] == (1, "one again", None)

        # The next batch meets a copied row as a known one.
        rows = Rows("rows_test", "id", COLUMNS)
        await rows.load(conn, [3])
        rows.add({"id": 3, "name": "three again"})
        await rows.flush(conn)
        assert (await table(conn))[2] == (3, "three again", None)


async def test_a_flush_with_nothing_changed_writes_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE rows_test (id int PRIMARY KEY, name text, status text)"
        )
        rows = Rows("rows_test", "id", COLUMNS)
        await rows.load(conn, [1])
        await rows.flush(conn)
        assert await table(conn) == []
