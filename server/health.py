"""Operators' health endpoint: is the database reachable, at which migration level."""

from __future__ import annotations

import asyncio
from typing import Literal

import asyncpg
from litestar import Controller, get
from litestar.di import NamedDependency

from infra.database import DatabaseUnavailable
from migrations.runner import applied_level
from server.schemas import Schema

# A health probe must answer quickly even when the database hangs.
_PROBE_TIMEOUT = 3.0


class Health(Schema):
    status: Literal["ok"]
    database: Literal["reachable"]
    migration_level: int


class HealthController(Controller):
    path = "/healthz"
    tags = ["operations"]

    @get(
        operation_id="getHealth",
        summary="Liveness and database reachability",
        description="200 when the database answers, 503 (problem+json) when it does not.",
    )
    async def get_health(self, pool: NamedDependency[asyncpg.Pool]) -> Health:
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT), pool.acquire() as conn:
                level = await applied_level(conn)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise DatabaseUnavailable(
                f"the database does not answer: {error or type(error).__name__}"
            ) from error
        return Health(status="ok", database="reachable", migration_level=level)
