"""Applies the numbered SQL migrations shipped in this package.

Each file runs in its own transaction while the runner holds a session-level
advisory lock, and is recorded with its SHA-256 in `schema_migrations`. A shipped
migration whose file changed after it was applied is refused, naming the file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent
_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Arbitrary but fixed: every Loopline process agrees on it.
ADVISORY_LOCK_KEY = 0x100B_11E0


class MigrationError(RuntimeError):
    """Raised when the migrations cannot be applied as shipped."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def shipped_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; refuses gaps and stray names."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        data = path.read_bytes()
        migrations.append(
            Migration(
                version=int(match[1]),
                name=match[2],
                sql=data.decode("utf-8"),
                checksum=hashlib.sha256(data).hexdigest(),
            )
        )
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(f"{migration.filename}: expected migration number {expected:04d}")
    return migrations


async def applied_level(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> int:
    """The highest applied migration version (0 when none or no table yet)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    level = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
    return int(level)


def latest_level(directory: Path = MIGRATIONS_DIR) -> int:
    migrations = shipped_migrations(directory)
    return migrations[-1].version if migrations else 0


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every pending migration; return those applied (empty when up to date)."""
    migrations = shipped_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {row["version"]: row for row in rows}
        by_version = {m.version: m for m in migrations}
        for version, row in sorted(applied.items()):
            shipped = by_version.get(version)
            if shipped is None:
                raise MigrationError(
                    f"the database has migration {version:04d}_{row['name']}.sql, which this "
                    "version of Loopline does not ship (is this an older release?)"
                )
            if shipped.checksum != row["checksum"]:
                raise MigrationError(
                    f"{shipped.filename} was changed after it was applied "
                    f"(checksum {shipped.checksum[:12]}… != recorded {row['checksum'][:12]}…); "
                    "shipped migrations are append-only: add a new one instead"
                )
        done = []
        for migration in migrations:
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(migration)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)
