"""Shared pieces of the benchmark suite: the database, results and the table."""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from infra.embedded import start_throwaway
from migrations.runner import migrate


class Result(msgspec.Struct):
    """One figure beside its baseline measured in the same run."""

    id: str
    figure: float
    unit: str
    baseline: str
    baseline_figure: float
    ratio: float
    target: str
    met: bool


class Report(msgspec.Struct):
    commit: str
    machine: str
    quick: bool
    results: list[Result]


@dataclass
class Context:
    """What every benchmark gets: a server to create databases on, and the run's size."""

    server_dsn: str
    quick: bool
    results: list[Result] = field(default_factory=list)
    _counter: int = 0

    async def fresh_database(self, *, migrated: bool = True) -> str:
        self._counter += 1
        return await self.fresh_database_named(
            f"loopline_bench_{os.getpid()}_{self._counter}", migrated=migrated
        )

    async def fresh_database_named(self, name: str, *, migrated: bool = True) -> str:
        """An empty (migrated) database called `name`, replacing any by that name."""
        admin = await asyncpg.connect(self.server_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await admin.execute(f"CREATE DATABASE {name}")
        finally:
            await admin.close()
        dsn = with_database(self.server_dsn, name)
        if migrated:
            conn = await asyncpg.connect(dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()
        return dsn

    def record(
        self,
        id: str,
        figure: float,
        unit: str,
        *,
        baseline: str,
        baseline_figure: float,
        target: str,
        met: bool,
        higher_is_better: bool = True,
    ) -> Result:
        if baseline_figure:
            ratio = figure / baseline_figure if higher_is_better else baseline_figure / figure
        else:
            ratio = 0.0
        result = Result(
            id=id,
            figure=round(figure, 3),
            unit=unit,
            baseline=baseline,
            baseline_figure=round(baseline_figure, 3),
            ratio=round(ratio, 3),
            target=target,
            met=met,
        )
        self.results.append(result)
        print(
            f"  {id:<28} {figure:>12.1f} {unit:<10} vs {baseline:<34} "
            f"{baseline_figure:>12.1f}  ratio {ratio:6.2f}  target {target:<14} "
            f"{'met' if met else 'MISSED'}",
            flush=True,
        )
        return result


Benchmark = Callable[[Context], Coroutine[Any, Any, None]]


def with_database(dsn: str, name: str) -> str:
    head, sep, query = dsn.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}{sep}{query}"


def server_dsn(database_url: str | None) -> str:
    if database_url:
        return database_url
    return with_database(start_throwaway("loopline-bench-"), "postgres")


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)
