"""Shared machinery of the fault-injection tests: scale, figures, read-model checksums,
clean rebuilds and a private embedded PostgreSQL that a test may stop and start."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from infra.embedded import pg_ctl, start_embedded
from infra.settings import Settings
from projections.catalog import all_projections
from projections.runner import request_rebuild, statuses
from projections.worker import build_runner
from tests.processes import LOOPLINE

LONG = os.environ.get("LOOPLINE_RELIABILITY_LONG") == "1"
"""LOOPLINE_RELIABILITY_LONG=1 (read only by these tests): the long runs."""

FIGURES = Path(__file__).with_name("figures.json")
"""The figures of each test's last run (not committed; docs/reliability.md quotes them)."""


def scaled(bounded: int, long: int) -> int:
    return long if LONG else bounded


def scaled_float(bounded: float, long: float) -> float:
    return long if LONG else bounded


def record(test: str, **figures: Any) -> None:
    """Print a test's figures and keep them in FIGURES, under the test's name."""
    figures = {"mode": "long" if LONG else "bounded", **figures}
    print(f"\n[reliability] {test}: {json.dumps(figures, sort_keys=True)}")
    known: dict[str, Any] = {}
    if FIGURES.exists():
        try:
            known = json.loads(FIGURES.read_text())
        except ValueError:
            known = {}
    known[test] = {**figures, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    FIGURES.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")


async def checksums(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> dict[str, str]:
    """One digest per read-model table, over every row."""
    result = {}
    for projection in all_projections():
        for table in projection.tables:
            result[table] = await conn.fetchval(
                "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f"FROM read.{table} t"
            )
    return result


async def events_digest(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy) -> str:
    value: str = await conn.fetchval(
        "SELECT md5(coalesce(string_agg(notification_id::text || originator_id::text || "
        "originator_version::text || topic || md5(state), '|' ORDER BY notification_id), '')) "
        "FROM stored_events"
    )
    return value


async def caught_up(settings: Settings, dsn: str, pool: asyncpg.Pool) -> dict[str, str]:
    """Bring every projection to the head here and now; their checksums."""
    runner = build_runner(settings, dsn, pool, all_projections())
    await runner.catch_up()
    async with pool.acquire() as conn:
        lag = sum(s.lag for s in await statuses(conn, all_projections()))
        assert lag == 0, f"projections still {lag} events behind"
        return await checksums(conn)


async def rebuilt(settings: Settings, dsn: str, pool: asyncpg.Pool) -> dict[str, str]:
    """Rebuild every projection from the event store into new tables; their checksums."""
    async with pool.acquire() as conn:
        for projection in all_projections():
            await request_rebuild(conn, projection.name)
    runner = build_runner(settings, dsn, pool, all_projections())
    await runner.catch_up()
    async with pool.acquire() as conn:
        for status in await statuses(conn, all_projections()):
            assert status.building_schema is None, status
            assert status.lag == 0, status
        return await checksums(conn)


@dataclass
class PrivateServer:
    """An embedded PostgreSQL of one test's own, which the test may stop and start."""

    pgdata: Path
    dsn: str
    """DSN of the `loopline` database on it (Unix socket)."""

    @classmethod
    def start(cls) -> PrivateServer:
        pgdata = Path(tempfile.mkdtemp(prefix="loopline-private-pg-")) / "pgdata"
        return cls(pgdata, start_embedded(pgdata, keep_running=True))

    @property
    def socket_dir(self) -> str:
        return parse_qs(urlsplit(self.dsn).query)["host"][0]

    def database(self, name: str) -> str:
        head, sep, query = self.dsn.partition("?")
        return f"{head.rsplit('/', 1)[0]}/{name}{sep}{query}"

    def stop(self) -> None:
        pg_ctl("-w", "-m", "fast", "stop", pgdata=self.pgdata)

    def resume(self) -> None:
        log = str(self.pgdata / "log")
        pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log, "start",
            pgdata=self.pgdata,
        )  # fmt: skip

    def close(self) -> None:
        """Stop the server, and remove its directory."""
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.pgdata.parent, ignore_errors=True)


def start_logged(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """`loopline <args>` with its output going to `log`: a pipe nobody reads would fill up
    with the tracebacks a fault produces and block the process."""
    with log.open("a") as output:
        return subprocess.Popen(
            [LOOPLINE, *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
