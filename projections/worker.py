"""Running projections in a process: the long-lived worker loop and one-off rebuilds."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg

from infra.database import server_settings
from infra.eventstore import create_mapper
from infra.recorder import AsyncpgRecorder
from infra.settings import Settings
from projections.base import Projection
from projections.catalog import all_projections
from projections.runner import Progress, ProjectionRunner, request_rebuild, statuses


class UnknownProjection(ValueError):
    """Raised when a projection name is not one Loopline has."""


def select(names: Sequence[str] | None) -> list[Projection]:
    projections = all_projections()
    if not names:
        return projections
    known = {p.name: p for p in projections}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownProjection(
            f"unknown projection {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return [known[n] for n in names]


def build_runner(
    settings: Settings, dsn: str, pool: asyncpg.Pool, projections: Sequence[Projection]
) -> ProjectionRunner:
    return ProjectionRunner(
        dsn,
        AsyncpgRecorder(pool, poll_interval=settings.poll_interval),
        create_mapper(),
        projections,
        batch_size=settings.projection_batch_size,
        poll_interval=settings.poll_interval,
        server_settings=server_settings(settings),
    )


async def rebuild(
    settings: Settings,
    dsn: str,
    pool: asyncpg.Pool,
    name: str,
    *,
    progress: Progress | None = None,
    lease_wait: float = 2.0,
    poll: float = 0.2,
) -> None:
    """Rebuild one projection into new tables and switch to them.

    When no worker holds the projection, this process rebuilds it; otherwise the
    worker that holds it is asked to, and this waits, reporting its progress.
    """
    [projection] = select([name])
    async with pool.acquire() as conn:
        await request_rebuild(conn, name)
    runner = build_runner(settings, dsn, pool, [projection])
    try:
        await runner.catch_up([name], progress=progress, wait_for_lease=lease_wait)
        return
    except TimeoutError:
        pass  # a running worker holds it: it picks the request up
    while True:
        async with pool.acquire() as conn:
            [status] = await statuses(conn, [projection])
        if status.failed_position is not None:
            raise RuntimeError(
                f"projection {name} failed at position {status.failed_position}: "
                f"{status.failed_error}"
            )
        if progress is not None:
            progress(status.position, status.head)
        if status.building_schema is None and status.active_schema is not None:
            async with pool.acquire() as conn:
                requested = await conn.fetchval(
                    "SELECT rebuild_requested FROM projection_registry WHERE name = $1", name
                )
            if not requested:
                return
        await asyncio.sleep(poll)


async def run_until_stopped(
    runner: ProjectionRunner,
    names: Sequence[str] | None = None,
    *,
    stop: asyncio.Event | None = None,
) -> None:
    """Run projections until `stop` is set (or the task is cancelled)."""
    task = asyncio.create_task(runner.run(names))
    try:
        if stop is None:
            await task
        else:
            await stop.wait()
    finally:
        runner.stop()
        await asyncio.wait_for(task, timeout=30)
