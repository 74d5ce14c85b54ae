"""Property-based tests of every API operation from the served OpenAPI schema: no 5xx, no
response that violates the schema, every 4xx answered as problem+json."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from infra.settings import load_settings
from server.app import create_app
from tests.conftest import ADMIN_TOKEN, TEMPLATE, _with_database, running_api

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EXAMPLES = int(os.environ.get("LOOPLINE_SCHEMATHESIS_EXAMPLES", "50"))
_names = itertools.count()


def _openapi() -> dict[str, Any]:
    # The same schema the server serves at /schema/openapi.json, built without a database.
    app = create_app(load_settings({}, database_url="postgresql://unused/unused"))
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


schema = schemathesis.openapi.from_dict(_openapi()).exclude(path="/api/events/stream")


@pytest.fixture(scope="module")
def served(
    server_dsn: str, template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    name = f"loopline_schemathesis_{os.getpid()}_{next(_names)}"

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


@schemathesis.check
def problem_details_for_client_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type", [""])
        value = content_type[0] if isinstance(content_type, list) else content_type
        assert value.startswith("application/problem+json"), (
            f"{response.status_code} answered as {value!r}, not problem+json"
        )
    return None


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_its_contract(case: Any, served: str) -> None:
    case.call_and_validate(
        base_url=served,
        headers=AUTH,
        checks=[
            not_a_server_error,
            response_schema_conformance,
            problem_details_for_client_errors,
        ],
    )
