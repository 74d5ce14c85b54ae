"""The served OpenAPI schema and a module-scoped API server, for the hostile-input tests
(the same set-up as tests/integration/test_api_schemathesis.py, without importing a test
module, which would register its schemathesis checks twice)."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from infra.settings import load_settings
from server.app import create_app
from tests.conftest import ADMIN_TOKEN, TEMPLATE, _with_database, running_api

_names = itertools.count()


def openapi() -> dict[str, Any]:
    """The schema the server serves at /schema/openapi.json, built without a database."""
    app = create_app(load_settings({}, database_url="postgresql://unused/unused"))
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


@pytest.fixture(scope="module")
def served(
    server_dsn: str, template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    name = f"loopline_hostile_{os.getpid()}_{next(_names)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    dsn = _with_database(server_dsn, name)
    config = load_settings(
        {},
        database_url=dsn,
        data_dir=Path(tmp_path_factory.mktemp("data")),
        admin_token=ADMIN_TOKEN,
    )
    try:
        with running_api(config, dsn) as url:
            yield url
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
