"""Finding the database: the embedded PostgreSQL or DATABASE_URL, and the asyncpg pool."""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import asyncpg

from infra.settings import Settings

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "loopline"

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
"""A plain connection or one borrowed from a pool: both run queries alike."""


class DatabaseUnavailable(RuntimeError):
    """Raised when no usable database can be reached or started (one readable line)."""


TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a connection broken mid-operation (e.g. server shutdown)
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # shutdown, crash recovery, cannot connect now
    asyncpg.InsufficientResourcesError,  # disk full, out of memory, too many connections
    asyncpg.ReadOnlySQLTransactionError,  # a read-only database or a standby
    asyncpg.LockNotAvailableError,  # lock_timeout
    asyncpg.IdleInTransactionSessionTimeoutError,
)
"""Errors that say nothing about the data: the same work succeeds once the database is
back, writable and unlocked. Workers retry them; the API answers them 503."""

DATABASE_ERRORS: tuple[type[Exception], ...] = (*TRANSIENT_ERRORS, asyncpg.PostgresError)
"""Anything the database or the driver may raise: what a long-running worker survives."""


def _pgserver() -> Any:
    # pgserver reads platformdirs' runtime dir at import time and warns when
    # XDG_RUNTIME_DIR is unset; that warning is noise for our users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def start_embedded(pgdata: Path, *, keep_running: bool = False) -> str:
    """Start (or reuse) the private PostgreSQL in `pgdata`; return a DSN over its Unix socket.

    The server stops when the last Loopline process using it exits, unless
    `keep_running`. Raises DatabaseUnavailable with one clear line on failure.
    """
    if pgdata.parent.exists() and not pgdata.parent.is_dir():
        raise DatabaseUnavailable(f"data directory {pgdata.parent} is a file, not a directory")
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseUnavailable(
            f"data directory {pgdata.parent} is unusable: {error.strerror or error}"
        ) from None
    if pgdata.exists() and not pgdata.is_dir():
        raise DatabaseUnavailable(f"data directory {pgdata} is a file, not a directory")
    if not os.access(pgdata.parent, os.W_OK | os.X_OK):
        raise DatabaseUnavailable(f"data directory {pgdata.parent} is not writable")
    pgserver = _pgserver()
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
        uri: str = server.get_uri()
    except subprocess.CalledProcessError as error:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {pgdata} did not start "
            f"(exit {error.returncode}); see {pgdata / 'log'}"
        ) from None
    except subprocess.TimeoutExpired:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {pgdata} did not start in time; see {pgdata / 'log'}"
        ) from None
    except (OSError, AssertionError) as error:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {pgdata} could not start: {error}"
        ) from None
    _ensure_database(server)
    return uri.replace("/postgres?", f"/{EMBEDDED_DATABASE}?", 1)


def _ensure_database(server: Any) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded server, started when needed."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.pgdata)


def server_settings(settings: Settings) -> dict[str, str]:
    """Session settings every Loopline connection runs with."""
    return {
        "application_name": "loopline",
        "lock_timeout": f"{int(settings.lock_timeout * 1000)}ms",
        "idle_in_transaction_session_timeout": (
            f"{int(settings.idle_in_transaction_timeout * 1000)}ms"
        ),
    }


async def _released(conn: asyncpg.Connection) -> None:
    """What a connection needs before the pool lends it again: nothing more than asyncpg
    already did (roll back a transaction left open, drop listener callbacks).

    asyncpg's default would also send `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` — a round trip on every release, that is on every request. Loopline leaves
    no session state on pooled connections: settings are `SET LOCAL`, cursors live inside
    transactions, LISTEN is undone by `remove_listener`, and advisory locks (projection
    leases, migrations) are taken on connections of their own.
    """


async def create_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    """An asyncpg pool sized from settings; DatabaseUnavailable when unreachable."""
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            server_settings=server_settings(settings),
            timeout=10,
            reset=_released,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {error}") from None
    assert pool is not None
    return pool


async def connect(settings: Settings, dsn: str) -> asyncpg.Connection:
    """One connection with Loopline's session settings (CLI commands, listeners)."""
    try:
        return await asyncpg.connect(dsn, server_settings=server_settings(settings), timeout=10)
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {error}") from None
