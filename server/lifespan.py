"""The app's lifespan: open the asyncpg pool, refuse a database whose schema is not current."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import anyio.to_thread
import asyncpg
from litestar import Litestar
from litestar.types import Scope

from infra.database import create_pool, database_url
from infra.eventstore import PostgresEventStore
from infra.settings import Settings
from infra.tokens import ensure_bootstrap
from migrations.runner import MigrationError, applied_level, latest_level
from projections.catalog import all_projections
from projections.worker import build_runner
from server.notices import follow_notices
from server.stream import Broadcaster

_CLOSE_TIMEOUT = 10.0


async def ensure_schema_current(pool: asyncpg.Pool) -> int:
    """The applied migration level; MigrationError unless it is exactly the shipped one."""
    async with pool.acquire() as conn:
        applied = await applied_level(conn)
    latest = latest_level()
    if applied < latest:
        raise MigrationError(
            f"the database is at migration level {applied}, this Loopline needs {latest}: "
            "run `loopline migrate` first"
        )
    if applied > latest:
        raise MigrationError(
            f"the database is at migration level {applied}, newer than this Loopline ({latest})"
        )
    return applied


def database_lifespan(
    settings: Settings, dsn: str | None
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Opens the pool on `dsn` (or the configured database) for the app's lifetime."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Starting the embedded server blocks on subprocesses; keep the loop free.
        target = dsn
        if target is None:
            target = await anyio.to_thread.run_sync(database_url, settings)
        pool = await create_pool(settings, target)
        projecting: asyncio.Task[None] | None = None
        noticing: asyncio.Task[None] | None = None
        try:
            await ensure_schema_current(pool)
            app.state.pool = pool
            app.state.dsn = target
            app.state.store = PostgresEventStore.from_pool(pool, settings)
            app.state.broadcaster = Broadcaster(app.state.store.recorder)
            if settings.admin_token:
                async with pool.acquire() as conn:
                    await ensure_bootstrap(conn, settings.admin_token)
            noticing = asyncio.create_task(
                follow_notices(
                    settings,
                    target,
                    [app.state.token_cache, app.state.metrics_cache, app.state.integration_cache],
                ),
                name="notices",
            )
            if settings.run_projections:
                runner = build_runner(settings, target, pool, all_projections())
                projecting = asyncio.create_task(runner.run(), name="projections")
                app.state.runner = runner
            yield
        finally:
            if noticing is not None:
                noticing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await noticing
            if hasattr(app.state, "broadcaster"):
                await app.state.broadcaster.stop()
            if projecting is not None:
                app.state.runner.stop()
                try:
                    await asyncio.wait_for(projecting, _CLOSE_TIMEOUT)
                except TimeoutError:
                    projecting.cancel()
            try:
                await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT)
            except TimeoutError:
                pool.terminate()

    return lifespan


async def replace_read_only_connections(error: Exception, scope: Scope) -> None:
    """After a read-only refusal, have the pool open fresh connections.

    A session keeps the read-only default it started with; without this, connections
    opened while the database was read-only would refuse writes after it recovered.
    """
    if isinstance(error, asyncpg.ReadOnlySQLTransactionError):
        pool: asyncpg.Pool | None = getattr(scope["app"].state, "pool", None)
        if pool is not None:
            await pool.expire_connections()
