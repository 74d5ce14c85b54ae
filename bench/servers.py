"""Servers for the HTTP benchmarks, each in its own process with the same settings: the
real Loopline app and the bare baselines it is compared with."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

ADMIN_TOKEN = "ll_bench-admin-token-not-a-secret"
BENCH_RATE_LIMIT = 10**9
"""Webhook deliveries a minute the benchmarked server allows one address: the load comes
from one address, so the default limit (600) would refuse it; the limiter still counts
every delivery, as in production."""


def _webhook_baseline(dsn: str) -> Any:
    """One Litestar route that inserts the raw body, nothing else (B2's baseline)."""
    from collections.abc import AsyncIterator as Iter

    from litestar import Litestar, Request, post

    from infra.database import create_pool
    from infra.settings import load_settings

    @post("/webhooks/github", status_code=202, request_max_body_size=1024 * 1024)
    async def receive(request: Request[Any, Any, Any]) -> dict[str, int]:
        body = await request.body()
        async with request.app.state.pool.acquire() as conn:
            row = await conn.fetchval("INSERT INTO bench_raw (body) VALUES ($1) RETURNING id", body)
        return {"delivery": int(row)}

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> Iter[None]:
        app.state.pool = await create_pool(load_settings({}, database_url=dsn), dsn)
        try:
            yield
        finally:
            await app.state.pool.close()

    return Litestar(route_handlers=[receive], lifespan=[lifespan])


def _hello_world() -> Any:
    """Litestar's hello world (B5's baseline)."""
    from litestar import Litestar, get

    @get("/api/feedback")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return Litestar(route_handlers=[hello])


def _serve(
    kind: str, dsn: str, port: int, run_projections: bool, run_webhook_workers: bool
) -> None:
    import logging

    import uvicorn

    from infra.settings import load_settings
    from server.app import create_app

    logging.disable(logging.WARNING)
    if kind == "loopline":
        settings = load_settings(
            {},
            database_url=dsn,
            run_projections=run_projections,
            admin_token=ADMIN_TOKEN,
            rate_limit_webhooks=BENCH_RATE_LIMIT,
            run_webhook_workers=run_webhook_workers,
        )
        app = create_app(settings, dsn=dsn)
    elif kind == "webhook-baseline":
        app = _webhook_baseline(dsn)
    else:
        app = _hello_world()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def running(
    kind: str, dsn: str = "", *, run_projections: bool = False, run_webhook_workers: bool = True
) -> AsyncIterator[tuple[str, int]]:
    """(base URL, process id) of a server of `kind` until the block ends."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(kind, dsn, port, run_projections, run_webhook_workers), daemon=True
    )
    process.start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            for _ in range(600):
                try:
                    await client.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        assert process.pid is not None
        yield base, process.pid
    finally:
        process.terminate()
        process.join(10)


@contextlib.asynccontextmanager
async def working(dsn: str) -> AsyncIterator[int]:
    """A `loopline work` process (the webhook workers, apart from the API) until the block
    ends; its process id."""
    loopline = str(Path(sys.executable).with_name("loopline"))
    process = await asyncio.create_subprocess_exec(
        loopline,
        "work",
        env={"DATABASE_URL": dsn, "PATH": str(Path(sys.executable).parent)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process.pid
    finally:
        process.terminate()
        await process.wait()
