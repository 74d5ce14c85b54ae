"""Finding the database: the embedded PostgreSQL or DATABASE_URL, and the asyncpg pool."""

from __future__ import annotations

import logging

import asyncpg

# DatabaseUnavailable lives with the embedded server, which raises it first; callers
# import it from here, next to everything else that reaches a database.
from infra.embedded import DatabaseUnavailable as DatabaseUnavailable
from infra.embedded import start_embedded
from infra.settings import Settings

logger = logging.getLogger(__name__)

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
"""A plain connection or one borrowed from a pool: both run queries alike."""


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


async def create_pool(
    settings: Settings, dsn: str, *, application_name: str = "loopline"
) -> asyncpg.Pool:
    """An asyncpg pool sized from settings; DatabaseUnavailable when unreachable."""
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            server_settings={**server_settings(settings), "application_name": application_name},
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
