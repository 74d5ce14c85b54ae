"""Operators' endpoints: readiness (database, migrations, projections) and Prometheus."""

from __future__ import annotations

import asyncio

import asyncpg
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import ResponseSpec
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

from infra.database import DatabaseUnavailable
from infra.settings import Settings
from migrations.runner import applied_level, latest_level
from projections.catalog import all_projections
from projections.runner import Status, statuses
from server.request_metrics import RequestMetrics
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


class StuckSession(Schema):
    """A database session that holds up the event store, or sits idle in a transaction."""

    pid: int
    application: str
    condition: str
    """holds-events-lock, waits-for-events-lock or idle-in-transaction."""
    seconds: float


class Readiness(Schema):
    ready: bool
    database: str
    migration_level: int | None
    migrations_current: bool
    head: int | None
    projections: list[ProjectionState]
    problems: list[str]
    stuck_sessions: list[StuckSession] = []


# Sessions of this database that have held or waited for a lock on stored_events that
# appends need (any but ACCESS SHARE), or sat idle in a transaction, longer than $1 s.
_STUCK = """
SELECT a.pid, coalesce(a.application_name, '') AS application,
       CASE WHEN l.granted THEN 'holds-events-lock' ELSE 'waits-for-events-lock' END AS condition,
       extract(epoch FROM now() - CASE WHEN l.granted THEN a.xact_start
                                       ELSE coalesce(l.waitstart, a.query_start) END) AS seconds
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.relation = 'stored_events'::regclass
  AND l.mode <> 'AccessShareLock' AND a.pid <> pg_backend_pid()
UNION ALL
SELECT a.pid, coalesce(a.application_name, ''), 'idle-in-transaction',
       extract(epoch FROM now() - a.state_change)
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.state LIKE 'idle in transaction%'
  AND a.pid <> pg_backend_pid()
"""


def _stuck_problem(session: StuckSession) -> str | None:
    if session.condition == "idle-in-transaction":
        return None  # reported; a problem only when it holds up the event store
    what = "holds" if session.condition == "holds-events-lock" else "waits for"
    return (
        f"session {session.pid} ({session.application or 'no application name'}) {what} "
        f"the events table lock for {session.seconds:.0f}s: appends time out"
    )


def prometheus_config() -> PrometheusConfig:
    return PrometheusConfig(
        app_name="loopline",
        prefix="loopline",
        group_path=True,
        exclude=["^/metrics", "^/api/events/stream"],
    )


def request_metrics_middleware() -> DefineMiddleware:
    """Prometheus's request metrics, by `prometheus_config` (server/request_metrics.py)."""
    return DefineMiddleware(RequestMetrics, config=prometheus_config())


async def _observe(pool: asyncpg.Pool) -> tuple[int, list[Status]]:
    async with asyncio.timeout(_PROBE_TIMEOUT), pool.acquire() as conn:
        level = await applied_level(conn)
        return level, await statuses(conn, all_projections())


async def _stuck_sessions(pool: asyncpg.Pool, longer_than: float) -> list[StuckSession]:
    async with asyncio.timeout(_PROBE_TIMEOUT), pool.acquire() as conn:
        rows = await conn.fetch(_STUCK)
    return [
        StuckSession(
            pid=row["pid"],
            application=row["application"],
            condition=row["condition"],
            seconds=round(float(row["seconds"] or 0), 1),
        )
        for row in rows
        if float(row["seconds"] or 0) > longer_than
    ]


class OperationsController(Controller):
    tags = ["operations"]

    @get(
        "/readyz",
        operation_id="getReadiness",
        summary="Readiness: database, migrations, projections",
        description=(
            "200 when the database answers, the migrations are current, every projection "
            "has a read model, none has stopped on an event and no session has held (or "
            "waited for) the events table lock longer than the lock timeout; 503 otherwise. "
            "Projection lag (events behind the store's head) and stuck sessions (including "
            "sessions idle in a transaction) are reported either way."
        ),
        responses={
            503: ResponseSpec(
                Readiness,
                description="Not ready: the report says why (a problem when the database "
                "does not answer at all).",
                generate_examples=False,
            )
        },
    )
    async def readiness(
        self, pool: NamedDependency[asyncpg.Pool], settings: NamedDependency[Settings]
    ) -> Response[Readiness]:
        problems: list[str] = []
        try:
            level, states = await _observe(pool)
            # Longer than an append waits for the lock: appends are timing out.
            stuck = await _stuck_sessions(pool, settings.lock_timeout)
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
            f"projection {s.name} has no read model yet (its first build is running)"
            for s in states
            if s.active_schema is None
        )
        problems.extend(
            f"projection {p.name} stopped at position {p.failed_position}"
            for p in projections
            if p.failed_position is not None
        )
        problems.extend(p for p in map(_stuck_problem, stuck) if p is not None)
        body = Readiness(
            ready=not problems,
            database="reachable",
            migration_level=level,
            migrations_current=current,
            head=states[0].head if states else None,
            projections=projections,
            problems=problems,
            stuck_sessions=stuck,
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
