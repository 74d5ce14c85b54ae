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
    names: Sequence[str],
    *,
    progress: Progress | None = None,
    lease_wait: float = 2.0,
    poll: float = 0.2,
) -> None:
    """Rebuild projections into new tables and switch to them; several together share one
    read of the events.

    When no worker holds them, this process rebuilds them; otherwise the worker that
    holds them is asked to, and this waits, reporting the position all of them reached.
    """
    projections = select(names)
    async with pool.acquire() as conn:
        for projection in projections:
            await request_rebuild(conn, projection.name)
    runner = build_runner(settings, dsn, pool, projections)
    try:
        await runner.catch_up(names, progress=progress, wait_for_lease=lease_wait)
        return
    except TimeoutError:
        pass  # a running worker holds one: it picks the request up
    while True:
        async with pool.acquire() as conn:
            found = await statuses(conn, projections)
            requested = await conn.fetchval(
                "SELECT count(*) FROM projection_registry "
                "WHERE name = ANY($1::text[]) AND rebuild_requested",
                list(names),
            )
        for status in found:
            if status.failed_position is not None:
                raise RuntimeError(
                    f"projection {status.name} failed at position {status.failed_position}: "
                    f"{status.failed_error}"
                )
        if progress is not None:
            progress(min(s.position for s in found), found[0].head)
        done = all(s.building_schema is None and s.active_schema is not None for s in found)
        if done and not requested:
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
