"""The migrations runner against a real PostgreSQL, on a copy of the shipped files."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import pytest

from migrations.runner import MIGRATIONS_DIR, MigrationError, applied_level, latest_level, migrate


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, directory / path.name)
    return directory


async def test_fresh_apply_then_reapply_does_nothing(empty_database: str) -> None:
    conn = await asyncpg.connect(empty_database)
    try:
        # A fresh database gets every migration, in order.
        applied = await migrate(conn)
        assert [m.version for m in applied] == list(range(1, latest_level() + 1))
        assert await applied_level(conn) == latest_level()

        # Applying again changes nothing.
        assert await migrate(conn) == []
    finally:
        await conn.close()


async def test_a_changed_shipped_migration_is_refused_by_name(
    empty_database: str, migrations_copy: Path
) -> None:
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn, migrations_copy)

        # Someone edits a migration that was already applied.
        edited = migrations_copy / "0001_event_store.sql"
        edited.write_text(edited.read_text() + "\n-- an innocent-looking edit\n")

        # The runner refuses, naming the file, and applies nothing.
        with pytest.raises(MigrationError, match=r"0001_event_store\.sql was changed"):
            await migrate(conn, migrations_copy)
    finally:
        await conn.close()


async def test_a_new_migration_is_applied_after_the_shipped_ones(
    empty_database: str, migrations_copy: Path
) -> None:
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate(conn, migrations_copy)
        number = latest_level(migrations_copy) + 1
        (migrations_copy / f"{number:04d}_extra.sql").write_text("CREATE TABLE extra (x int);")

        applied = await migrate(conn, migrations_copy)

        assert [m.filename for m in applied] == [f"{number:04d}_extra.sql"]
        assert await applied_level(conn) == number
    finally:
        await conn.close()
