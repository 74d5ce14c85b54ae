"""B2 webhooks: signed GitHub `deployment_status` deliveries into Loopline's inbox vs a bare
Litestar endpoint that only inserts the raw body (same server settings); 8 concurrent
senders, and latency at a steady 200 deliveries/s.

The 8 senders are wrk (bench/b2_wrk.lua) when it is installed (`apt-get install wrk`):
the deliveries are signed before the clock starts and wrk only sends their bytes. The two
cores run the load generator beside the server and PostgreSQL, and an aiohttp client that
builds and signs each delivery spent as much CPU on it as the bare baseline's server did
(about 0.7 ms), which capped both figures near 1,200/s whatever the server. Without wrk
the senders are aiohttp, as before, and the run says so. The steady 200/s (an open loop,
which wrk cannot do) is aiohttp's in both cases."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg

from bench.harness import Context
from bench.servers import running, working

SECRET = "bench-webhook-secret-0123456789"
REPOSITORY = "acme/billing"
SENDERS = 8
RATE = 200.0


def _body(n: int) -> bytes:
    """A successful production deployment of its own commit, shaped as GitHub sends it
    (with the repository and sender objects that make a real delivery a few KB)."""
    sha = hashlib.sha1(str(n).encode()).hexdigest()
    user = {"login": "deployer", "id": 21031067, "type": "User", "site_admin": False}
    user |= {f"{k}_url": f"https://api.github.com/users/deployer/{k}" for k in _USER_LINKS}
    repository = {"id": 186853002, "name": "billing", "full_name": REPOSITORY, "owner": user}
    repository |= {f"{k}_url": f"https://api.github.com/repos/{REPOSITORY}/{k}" for k in _LINKS}
    return json.dumps(
        {
            "action": "created",
            "deployment_status": {
                "id": 1_000_000 + n,
                "state": "success",
                "environment": "production",
                "creator": user,
                "created_at": "2024-05-01T09:05:00Z",
                "updated_at": "2024-05-01T09:05:00Z",
            },
            "deployment": {
                "id": 2_000_000 + n,
                "sha": sha,
                "ref": "main",
                "task": "deploy",
                "environment": "production",
                "creator": user,
                "created_at": "2024-05-01T09:00:00Z",
                "updated_at": "2024-05-01T09:05:00Z",
            },
            "repository": repository,
            "sender": user,
        }
    ).encode()


_USER_LINKS = ("avatar", "followers", "following", "gists", "starred", "repos", "events")
_LINKS = [
    "forks",
    "issues",
    "pulls",
    "commits",
    "branches",
    "tags",
    "releases",
    "deployments",
    "hooks",
    "labels",
    "milestones",
    "contributors",
    "languages",
    "subscribers",
    "stargazers",
    "merges",
    "archive",
    "downloads",
    "statuses",
    "trees",
]


def _headers(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "x-github-event": "deployment_status",
        "x-github-delivery": str(uuid.uuid4()),
        "x-hub-signature-256": f"sha256={digest}",
    }


async def _prepare(dsn: str) -> None:
    from domain import services
    from infra.eventstore import PostgresEventStore
    from infra.settings import load_settings
    from server.webhooks.integrations import add_integration

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE bench_raw (id bigserial PRIMARY KEY, body bytea)")
            await add_integration(conn, source="github", secret=SECRET, repositories=[REPOSITORY])
        store = PostgresEventStore.from_pool(pool, load_settings({}, database_url=dsn))
        await services.form_team(store, slug="billing", name="Billing")
        await services.own_repository(store, "billing", repository=REPOSITORY)
    finally:
        await pool.close()


Send = Callable[[int], Awaitable[float]]


async def _throughput(send: Send, total: int) -> float:
    counter = iter(range(total))

    async def sender() -> None:
        for n in counter:
            await send(n)

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return total / (time.perf_counter() - began)


async def _steady(send: Send, seconds: float) -> list[float]:
    """Open loop: one delivery every 1/RATE s whatever the answers do; their latencies."""
    latencies: list[float] = []
    tasks = []
    began = time.perf_counter()
    for n in range(int(RATE * seconds)):
        delay = began + n / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

        async def one(n: int = n) -> None:
            latencies.append(await send(1_000_000 + n))

        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return latencies


WRK_SCRIPT = Path(__file__).with_name("b2_wrk.lua")
WRK_RATE = 6000
"""Deliveries a second B2 signs in advance for wrk's run (more than this VM can receive):
each is sent once; a run that used them all up is refused as too short to measure."""


def _raw_request(n: int, host: str) -> bytes:
    """The bytes of one signed delivery as an HTTP/1.1 request, as aiohttp would send it."""
    body = _body(n)
    headers = _headers(body) | {"host": host, "content-length": str(len(body))}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /webhooks/github HTTP/1.1\r\n{head}\r\n".encode() + body


async def _wrk_throughput(base: str, seconds: float, first: int) -> float:
    """Deliveries/s wrk answers with 202 from SENDERS connections over `seconds`, each
    delivery signed beforehand and sent once."""
    host = base.removeprefix("http://")
    with tempfile.NamedTemporaryFile(prefix="loopline-b2-", suffix=".http") as file:
        for n in range(first, first + int(WRK_RATE * seconds)):
            raw = _raw_request(n, host)
            file.write(b"%d\n%s" % (len(raw), raw))
        file.flush()
        process = await asyncio.create_subprocess_exec(
            "wrk",
            "--threads=1",
            f"--connections={SENDERS}",
            f"--duration={int(seconds)}s",
            f"--script={WRK_SCRIPT}",
            f"{base}/webhooks/github",
            env={**os.environ, "B2_REQUESTS": file.name},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
    lines = [line for line in out.decode().splitlines() if line.startswith("B2 ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.decode()[-500:]}")
    answers, refused, exhausted, duration = (int(x) for x in lines[-1].split()[1:])
    if refused:
        raise RuntimeError(f"{refused} of {answers} deliveries were not answered 202")
    if exhausted:
        raise RuntimeError(f"wrk sent all {int(WRK_RATE * seconds)} signed deliveries")
    return answers / (duration / 1e6)


MAPPING_TIMEOUT = 120.0
"""Seconds B2 gives a `loopline work` process, after the receiving, to map the inbox."""


async def _mapped(dsn: str, began: float) -> float:
    """Deliveries mapped a second from `began` until the inbox has none left to map (or
    MAPPING_TIMEOUT passed: then what was mapped by then)."""
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(int(MAPPING_TIMEOUT / 0.1)):
            row = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE state IN ('mapped', 'ignored')),"
                " count(*) FILTER (WHERE state = 'failed'),"
                " count(*) FILTER (WHERE next_attempt_at IS NOT NULL) FROM webhook_deliveries"
            )
            assert row is not None
            mapped, failed, left = row
            if failed:
                raise RuntimeError(f"{failed} deliveries failed to map")
            if left == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return float(mapped) / (time.perf_counter() - began)


async def _measure(kind: str, dsn: str, quick: bool) -> tuple[float, float, float, float]:
    """(deliveries/s, p50 ms, p99 ms, mapped/s). Loopline runs as issue 18 deploys it for
    volume: the API receives (one insert each, like the baseline) with its webhook workers
    off; then a `loopline work` process maps what was received, and the rate it drains the
    inbox at is reported beside. On two shared cores a mapper running during the receiving
    would measure the mapping, which the baseline does not do; where workers run on cores
    of their own, receiving does not wait for them."""
    async with (
        running(kind, dsn, run_webhook_workers=False) as (base, _),
        aiohttp.ClientSession(
            base,
            connector=aiohttp.TCPConnector(limit=64),
            timeout=aiohttp.ClientTimeout(total=30),
        ) as client,
    ):

        async def send(n: int) -> float:
            body = _body(n)
            headers = _headers(body)
            began = time.perf_counter()
            async with client.post("/webhooks/github", data=body, headers=headers) as answer:
                text = await answer.text()
            elapsed = time.perf_counter() - began
            if answer.status != 202:
                raise RuntimeError(f"{kind}: {answer.status} {text}")
            return elapsed

        await _throughput(send, 200)  # warm up
        if shutil.which("wrk"):
            rate = await _wrk_throughput(base, 2.0 if quick else 4.0, 10_000)
        else:
            rate = await _throughput(send, 1000 if quick else 5000)
        latencies = sorted(await _steady(send, 3.0 if quick else 10.0))
    mapped = 0.0
    if kind == "loopline":
        async with working(dsn):
            mapped = await _mapped(dsn, time.perf_counter())
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return rate, p50, p99, mapped


async def run(ctx: Context) -> None:
    if not shutil.which("wrk"):
        print("  (no wrk: the 8 senders are aiohttp, which shares the cores; see the docstring)")
    figures: dict[str, tuple[float, float, float, float]] = {}
    for kind in ("loopline", "webhook-baseline"):
        dsn = await ctx.fresh_database()
        await _prepare(dsn)
        figures[kind] = await _measure(kind, dsn, ctx.quick)
    ours, bare = figures["loopline"], figures["webhook-baseline"]
    ctx.record(
        f"B2-webhooks-{SENDERS}-senders",
        ours[0],
        "deliveries/s",
        baseline="bare Litestar insert of the body",
        baseline_figure=bare[0],
        target=">= 1500/s",
        met=ours[0] >= 1500,
    )
    for label, index, target in (("p50", 1, None), ("p99", 2, 50.0)):
        ctx.record(
            f"B2-webhooks-{label}-at-{int(RATE)}/s",
            ours[index],
            "ms",
            baseline="bare Litestar insert of the body",
            baseline_figure=bare[index],
            target=f"<= {target:.0f} ms" if target else "(context)",
            met=target is None or ours[index] <= target,
            higher_is_better=False,
        )
    ctx.record(
        "B2-webhooks-mapped",
        ours[3],
        "deliveries/s",
        baseline="deliveries received/s (8 senders)",
        baseline_figure=ours[0],
        target="(context)",
        met=True,
    )
