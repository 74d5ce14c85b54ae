"""Test fixtures: a real PostgreSQL (embedded pgserver, or DATABASE_URL when set).

Every test that asks for `database_url` gets a fresh database cloned from a
migrated template, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from infra.embedded import start_throwaway
from infra.eventstore import PostgresEventStore
from infra.settings import Settings, load_settings
from migrations.runner import migrate
from projections import reads
from tests.api_helpers import VERIFY_LOOPBACK

# Every query a test runs is checked against the read models it declares.
reads.checking = True

TEMPLATE = "loopline_test_template"
_counter = itertools.count()


def _with_database(dsn: str, name: str) -> str:
    # Both DSN shapes we meet: postgresql://u@h:p/db?x and postgresql://u:@/db?host=/sock
    head, sep, query = dsn.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}{sep}{query}"


@pytest.fixture
def embedded_dir() -> Iterator[Path]:
    """A directory for an embedded server's data directory, outside pytest's own: under root
    the server runs as another user, and any pytest session that starts makes
    /tmp/pytest-of-root private again, locking that user out of tmp_path."""
    parent = Path(tempfile.mkdtemp(prefix="loopline-embedded-"))
    try:
        yield parent
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of a maintenance database on the test server."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    yield _with_database(start_throwaway("loopline-pg-"), "postgres")


@pytest.fixture(scope="session")
def template_dsn(server_dsn: str) -> str:
    async def build() -> None:
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
            await admin.execute(f"CREATE DATABASE {TEMPLATE}")
        finally:
            await admin.close()
        conn = await asyncpg.connect(_with_database(server_dsn, TEMPLATE))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(build())
    return _with_database(server_dsn, TEMPLATE)


@pytest.fixture
def fresh_database(server_dsn: str, template_dsn: str) -> Iterator[str]:
    """A new, migrated database for one test; dropped afterwards."""
    name = f"loopline_test_{os.getpid()}_{next(_counter)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    yield _with_database(server_dsn, name)
    asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def empty_database(server_dsn: str) -> Iterator[str]:
    """A new database with no migrations applied."""
    name = f"loopline_empty_{os.getpid()}_{next(_counter)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    yield _with_database(server_dsn, name)
    asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def database_url(fresh_database: str) -> str:
    return fresh_database


ADMIN_TOKEN = "ll_test-admin-token-not-a-secret"


def api_settings(database_url: str, data_dir: Path) -> dict[str, Any]:
    """The settings of the shared API fixtures. Tests hammer from one address with forged
    tokens and webhook bursts on purpose: rate limits are off here, and
    tests/reliability/test_rate_limits.py tests them."""
    return {
        "database_url": database_url,
        "data_dir": data_dir,
        "admin_token": ADMIN_TOKEN,
        "rate_limit_webhooks": 0,
        "rate_limit_failed_auth": 0,
    }


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings({}, **api_settings(database_url, tmp_path / "data"))


@pytest.fixture
async def pool(settings: Settings, database_url: str) -> AsyncIterator[asyncpg.Pool]:
    from infra.database import create_pool

    created = await create_pool(settings, database_url)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def event_store(pool: asyncpg.Pool, settings: Settings) -> PostgresEventStore:
    return PostgresEventStore.from_pool(pool, settings)


# --- A running API server over HTTP, for every API test ---------------------------------


@contextlib.contextmanager
def running_api(
    settings: Settings, dsn: str, *, timeout: float = 30.0, app: Any = None
) -> Iterator[str]:
    """Serve `app` (by default `create_app(settings, dsn=dsn)`) with uvicorn in a thread;
    yield its base URL.

    The app runs for real (lifespan, pool, HTTP) on a free port of 127.0.0.1 and is
    shut down gracefully on exit. RuntimeError when it does not start (e.g. the
    database is unreachable or its migrations are not current).
    """
    import uvicorn

    from loopline.serving import listen, server_config
    from server.app import create_app

    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    served = create_app(settings, dsn=dsn) if app is None else app
    server = uvicorn.Server(server_config(served))

    def serve() -> None:
        with contextlib.suppress(SystemExit):  # uvicorn's way of saying startup failed
            server.run(sockets=[sock])

    thread = threading.Thread(target=serve, name="api-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the API server did not start (see the captured log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API server did not start within {timeout}s")
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        if settings.run_projections:
            _wait_for_read_models(url, deadline)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


def _wait_for_read_models(url: str, deadline: float) -> None:
    """Until the projections have built their first read models (a new database answers
    503 "still being built" before that); gives up quietly at `deadline`, for the tests
    of servers that are not ready on purpose."""
    with httpx.Client(timeout=5, verify=VERIFY_LOOPBACK) as client:
        while time.monotonic() < deadline:
            try:
                answer = client.get(f"{url}/readyz")
            except httpx.HTTPError:
                return
            if "has no read model yet" not in answer.text:
                return
            time.sleep(0.02)


@pytest.fixture
def api_server(settings: Settings, database_url: str) -> Iterator[str]:
    """Base URL (`http://127.0.0.1:<port>`) of the API served against this test's database."""
    with running_api(settings, database_url) as url:
        yield url


@pytest.fixture
async def api(api_server: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the running API, authenticated with the bootstrap admin token."""
    async with httpx.AsyncClient(
        base_url=api_server,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
        verify=VERIFY_LOOPBACK,
    ) as client:
        yield client


_served_names = itertools.count()


@pytest.fixture(scope="module")
def served(
    server_dsn: str, template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of an API server shared by one test module, on a database of its own."""
    name = f"loopline_served_{os.getpid()}_{next(_served_names)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    dsn = _with_database(server_dsn, name)
    config = load_settings({}, **api_settings(dsn, Path(tmp_path_factory.mktemp("data"))))
    try:
        with running_api(config, dsn) as url:
            yield url
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
