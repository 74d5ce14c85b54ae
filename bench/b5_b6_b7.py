"""B5 read API requests/s against a Litestar hello world; B6 projection lag (commit →
visible in the read model) at a steady 200 events/s; B7 peak memory of the API and of
the projector."""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psutil  # type: ignore[import-untyped]

from bench.data import Size, load
from bench.harness import Context
from bench.servers import ADMIN_TOKEN, running
from domain.feedback import Feedback
from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.settings import load_settings
from projections.catalog import all_projections
from projections.worker import build_runner

CLIENTS = 8
RATE = 200.0
LOOPLINE = str(Path(sys.executable).with_name("loopline"))


async def _requests_per_second(base: str, path: str, total: int, token: str | None) -> float:
    """CLIENTS keep-alive connections asking `path` in a loop: wrk when it is installed
    (`apt-get install wrk`), for Loopline and its baseline alike, after aiohttp's warm-up.

    The load generator shares the two cores with the server. aiohttp spent about as much CPU
    on a request as the hello world's server did (a py-spy profile had that server idle
    nearly half the run), so it set the baseline's pace, not the server; wrk costs a fraction
    of that. Without wrk the measured run is aiohttp's too, and the run says so."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    wrk = shutil.which("wrk")
    async with aiohttp.ClientSession(
        base, headers=headers, connector=aiohttp.TCPConnector(limit=CLIENTS)
    ) as client:
        counter = iter(range(total))

        async def one_client() -> None:
            for _ in counter:
                async with client.get(path) as answer:
                    await answer.read()
                    answer.raise_for_status()

        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))  # warm up
        if wrk is not None:
            return await _wrk_requests_per_second(wrk, base + path, headers, total / 1000)
        counter = iter(range(total))
        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
        return total / (time.perf_counter() - began)


async def _wrk_requests_per_second(
    wrk: str, url: str, headers: dict[str, str], seconds: float
) -> float:
    """Requests/s wrk answers from CLIENTS connections over `seconds`; every answer must be
    a 2xx."""
    process = await asyncio.create_subprocess_exec(
        wrk,
        "--threads=1",
        f"--connections={CLIENTS}",
        f"--duration={max(1, round(seconds))}s",
        *(f"--header={name}: {value}" for name, value in headers.items()),
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    text = out.decode()
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.MULTILINE)
    if process.returncode != 0 or rate is None:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.decode()[-500:]}{text}")
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", text)
    if failed:
        raise RuntimeError(f"wrk had failed requests: {failed.group(0)}")
    return float(rate.group(1))


class PeakRss:
    """Samples a process's resident memory every 50 ms; `peak` in MB."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss / 2**20)
            except psutil.Error:
                return
            await asyncio.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._task = asyncio.create_task(self._sample())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def _projector_peak(dsn: str) -> float:
    """Peak RSS (MB) of `loopline rebuild --all` over the whole store."""
    process = await asyncio.create_subprocess_exec(
        LOOPLINE,
        "rebuild",
        "--all",
        env={"DATABASE_URL": dsn, "PATH": str(Path(sys.executable).parent)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with PeakRss(process.pid) as rss:
        await process.wait()
    return rss.peak


_FEEDBACK_POSITION = """
SELECT t.notification_id FROM projection_registry r
JOIN notification_tracking t ON t.application_name = r.active_schema
WHERE r.name = 'feedback'
"""


async def _lag(dsn: str, seconds: float) -> list[float]:
    """Seconds from each event's commit until the feedback read model includes it.

    The read model's rows and its tracking position commit together, so the position
    reaching an event's notification id is the moment its row became visible.
    """
    settings = load_settings({}, database_url=dsn)
    pool = await create_pool(settings, dsn)
    store = PostgresEventStore.from_pool(pool, settings)
    pending: dict[int, float] = {}
    lags: list[float] = []
    writing = True

    async def watch() -> None:
        async with pool.acquire() as conn:
            while writing or pending:
                reached = await conn.fetchval(_FEEDBACK_POSITION) or 0
                now = time.perf_counter()
                for position in [p for p in pending if p <= reached]:
                    lags.append(now - pending.pop(position))
                await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch())
    try:
        began = time.perf_counter()
        for n in range(int(RATE * seconds)):
            delay = began + n / RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            item = Feedback(
                key=f"FB-LAG-{n}",
                channel="web",
                touchpoint="product",
                text="lag probe",
                customer_ref=None,
                segment=None,
                nps=None,
                nps_reason=None,
                external_ref=None,
                received_at=datetime.now(UTC),
            )
            recording = await store.save(item)
            assert recording.last_position is not None
            pending[recording.last_position] = time.perf_counter()
        writing = False
        await asyncio.wait_for(watcher, timeout=60)
    finally:
        watcher.cancel()
        await pool.close()
    return lags


async def _dataset(ctx: Context) -> str:
    dsn = await ctx.fresh_database()
    settings = load_settings({}, database_url=dsn)
    pool = await create_pool(settings, dsn)
    try:
        size = Size(teams=6, feedback=2000 if ctx.quick else 20_000, increments=500)
        await load(PostgresEventStore.from_pool(pool, settings), 5, size)
        await build_runner(settings, dsn, pool, all_projections()).catch_up()
    finally:
        await pool.close()
    return dsn


async def _read_api(ctx: Context, dsn: str) -> tuple[float, float]:
    """(requests/s, peak RSS in MB) of the API serving the feedback list."""
    total = 1000 if ctx.quick else 5000
    async with running("loopline", dsn) as (base, pid):
        with PeakRss(pid) as api:
            rate = await _requests_per_second(base, "/api/feedback?limit=50", total, ADMIN_TOKEN)
    return rate, api.peak


async def run_b5(ctx: Context) -> None:
    if not shutil.which("wrk"):
        print("  (no wrk: the load is aiohttp's, which shares the cores; see _requests_per_second)")
    ours, _ = await _read_api(ctx, await _dataset(ctx))
    async with running("hello") as (base, _):
        hello = await _requests_per_second(base, "/api/feedback", 1000 if ctx.quick else 5000, None)
    ctx.record(
        "B5-read-api",
        ours,
        "requests/s",
        baseline="Litestar hello world",
        baseline_figure=hello,
        target=">= 0.7x",
        met=ours >= 0.7 * hello,
    )


async def run_b6(ctx: Context) -> None:
    dsn = await _dataset(ctx)
    async with running("loopline", dsn, run_projections=True):
        await asyncio.sleep(2)  # the projections find themselves caught up
        lags = sorted(await _lag(dsn, 5.0 if ctx.quick else 20.0))
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000
    ctx.record(
        "B6-projection-lag-p99",
        p99,
        "ms",
        baseline="median lag",
        baseline_figure=statistics.median(lags) * 1000,
        target="<= 250 ms",
        met=p99 <= 250,
        higher_is_better=False,
    )


async def run_b7(ctx: Context) -> None:
    dsn = await _dataset(ctx)
    _, api = await _read_api(ctx, dsn)
    projector = await _projector_peak(dsn)
    ctx.record(
        "B7-rss-api",
        api,
        "MB",
        baseline="target",
        baseline_figure=250.0,
        target="<= 250 MB",
        met=api <= 250,
        higher_is_better=False,
    )
    ctx.record(
        "B7-rss-projector",
        projector,
        "MB",
        baseline="API's peak",
        baseline_figure=api,
        target="(context)",
        met=True,
        higher_is_better=False,
    )
