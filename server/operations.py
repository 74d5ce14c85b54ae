"""Operators' endpoints: readiness (database, migrations, projections) and Prometheus."""

from __future__ import annotations

import asyncio

import asyncpg
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

from infra.database import DatabaseUnavailable
from migrations.runner import applied_level, latest_level
from projections.catalog import all_projections
from projections.runner import Status, statuses
from server.schemas import Schema

_PROBE_TIMEOUT = 3.0

PROJECTION_LAG = Gauge(
    "loopline_projection_lag_events", "Events a projection is behind the store", ["projection"]
)
PROJECTION_FAILED = Gauge(
    "loopline_projection_failed", "1 when a projection stopped on an event", ["projection"]
)
STORE_HEAD = Gauge("loopline_event_store_head", "Position of the newest stored event")


class ProjectionState(Schema):
    name: str
    version: int
    position: int
    lag: int
    rebuilding: bool
    failed_position: int | None
    failed_error: str | None


class Readiness(Schema):
    ready: bool
    database: str
    migration_level: int | None
    migrations_current: bool
    head: int | None
    projections: list[ProjectionState]
    problems: list[str]


def prometheus_config() -> PrometheusConfig:
    return PrometheusConfig(
        app_name="loopline",
        prefix="loopline",
        group_path=True,
        exclude=["^/metrics", "^/api/events/stream"],
    )


async def _observe(pool: asyncpg.Pool) -> tuple[int, list[Status]]:
    async with asyncio.timeout(_PROBE_TIMEOUT), pool.acquire() as conn:
        level = await applied_level(conn)
        return level, await statuses(conn, all_projections())


class OperationsController(Controller):
    tags = ["operations"]

    @get(
        "/readyz",
        operation_id="getReadiness",
        summary="Readiness: database, migrations, projections",
        description=(
            "200 when the database answers, the migrations are current and no projection "
            "has stopped on an event; 503 otherwise. Projection lag (events behind the "
            "store's head) is reported either way."
        ),
    )
    async def readiness(self, pool: NamedDependency[asyncpg.Pool]) -> Response[Readiness]:
        problems: list[str] = []
        try:
            level, states = await _observe(pool)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise DatabaseUnavailable(
                f"the database does not answer: {error or type(error).__name__}"
            ) from error
        current = level == latest_level()
        if not current:
            problems.append(f"migration level {level}, expected {latest_level()}")
        projections = [
            ProjectionState(
                name=s.name,
                version=s.version,
                position=s.position,
                lag=s.lag,
                rebuilding=s.building_schema is not None,
                failed_position=s.failed_position,
                failed_error=s.failed_error,
            )
            for s in states
        ]
        problems.extend(
            f"projection {p.name} stopped at position {p.failed_position}"
            for p in projections
            if p.failed_position is not None
        )
        body = Readiness(
            ready=not problems,
            database="reachable",
            migration_level=level,
            migrations_current=current,
            head=states[0].head if states else None,
            projections=projections,
            problems=problems,
        )
        return Response(body, status_code=200 if body.ready else 503)

    @get(
        "/metrics",
        operation_id="getPrometheusMetrics",
        summary="Prometheus metrics",
        description="HTTP request metrics plus projection lag and the store's head.",
        media_type=CONTENT_TYPE_LATEST,
    )
    async def metrics(self, pool: NamedDependency[asyncpg.Pool]) -> Response[bytes]:
        try:
            _, states = await _observe(pool)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            states = []  # still expose the process's own metrics
        for state in states:
            PROJECTION_LAG.labels(state.name).set(state.lag)
            PROJECTION_FAILED.labels(state.name).set(1 if state.failed_position else 0)
            STORE_HEAD.set(state.head)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
