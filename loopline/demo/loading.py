"""Loading the demo into a database from the command line, with a progress bar."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from infra.database import DatabaseUnavailable, server_settings
from infra.eventstore import PostgresEventStore
from infra.settings import Settings
from loopline.demo import DEFAULT_SIZE, DemoReport, DemoSize, load_demo
from loopline.demo.cache import CachedEventStore


async def bulk_pool(settings: Settings, dsn: str) -> asyncpg.Pool:
    """A small pool for loading many commands one after another.

    `synchronous_commit = off` lets each commit return before its WAL reaches the disk:
    a crash may lose the last few commits but never corrupts or half-writes one, and an
    interrupted demo load is refused afterwards anyway (the marker comes last).
    """
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=2,
            server_settings={**server_settings(settings), "synchronous_commit": "off"},
            timeout=10,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {error}") from None
    assert pool is not None
    return pool


async def load_demo_database(
    settings: Settings,
    dsn: str,
    *,
    seed: int = 1,
    size: DemoSize = DEFAULT_SIZE,
    console: Console | None = None,
) -> DemoReport | None:
    """Load the demo into the database at `dsn`, showing progress; None when already there."""
    pool = await bulk_pool(settings, dsn)
    try:
        store = CachedEventStore(PostgresEventStore.from_pool(pool, settings))
        with Progress(
            TextColumn("demo: simulating {task.fields[days]} days"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[commands]:,} commands"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=True,
        ) as progress:
            task = progress.add_task("demo", total=1.0, days=size.days, commands=0)

            def report(done: float, commands: int) -> None:
                progress.update(task, completed=done, commands=commands)

            return await load_demo(store, seed=seed, size=size, progress=report)
    finally:
        await pool.close()


def load_demo_command(settings: Settings, dsn: str, *, seed: int = 1) -> None:
    """`up --demo`: load the demo once and say what was loaded (or that it already was)."""
    began = time.monotonic()
    report = asyncio.run(load_demo_database(settings, dsn, seed=seed))
    if report is None:
        typer.echo("demo: already loaded")
        return
    elapsed = time.monotonic() - began
    typer.echo(f"demo: loaded {report.summary()} in {elapsed:.0f}s")
