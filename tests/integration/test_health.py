"""GET /healthz over real HTTP, against a real PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import httpx
import pytest

from infra.settings import load_settings
from migrations.runner import latest_level
from tests.conftest import running_api


async def test_healthy_when_the_database_answers(api_server: str) -> None:
    async with httpx.AsyncClient(base_url=api_server) as client:
        response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "reachable",
        "migration_level": latest_level(),
    }


async def test_503_problem_when_the_database_goes_away(
    api_server: str, database_url: str, server_dsn: str
) -> None:
    async with httpx.AsyncClient(base_url=api_server) as client:
        assert (await client.get("/healthz")).status_code == 200

        # The database disappears under the running app (its connections are terminated).
        name = database_url.partition("?")[0].rsplit("/", 1)[1]
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        finally:
            await admin.close()

        # The app stays up and says so, as problem+json.
        response = await client.get("/healthz")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 503
        assert problem["title"] == "Database unavailable"
        assert problem["detail"]

        # Unknown routes are problem+json too.
        missing = await client.get("/no-such-thing")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


def test_the_app_refuses_a_database_that_is_not_migrated(
    empty_database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({}, database_url=empty_database, data_dir=tmp_path)
    with (
        caplog.at_level(logging.ERROR),
        pytest.raises(RuntimeError, match="did not start"),
        running_api(settings, empty_database),
    ):
        pass
    assert "run `loopline migrate` first" in caplog.text


async def test_openapi_names_the_health_operation(api_server: str) -> None:
    async with httpx.AsyncClient(base_url=api_server) as client:
        schema = (await client.get("/schema/openapi.json")).json()
    assert schema["paths"]["/healthz"]["get"]["operationId"] == "getHealth"


async def test_not_ready_until_every_projection_has_a_read_model(
    database_url: str, tmp_path: Path
) -> None:
    # No projection worker runs beside this server: the read models are never built.
    settings = load_settings(
        {}, database_url=database_url, data_dir=tmp_path / "data", run_projections=False
    )
    with running_api(settings, database_url) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert (
        "projection feedback has no read model yet (its first build is running)"
        in (answer.json()["problems"])
    )
