"""Increments (deployments) with the commits they carry, each commit's first successful
production deployment, and incidents: the raw material of the DORA measures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.incident import Incident
from domain.increment import PRODUCTION_ENVIRONMENTS, Increment
from infra.database import Connection
from projections.base import Positioned, Projection, events_of

SCHEMA = """
CREATE TABLE increments (
    id uuid PRIMARY KEY,
    service text NOT NULL,
    environment text NOT NULL,
    production boolean NOT NULL,
    release_version text,
    commit_sha text,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    status text NOT NULL,
    reason text,
    -- Set when a later increment was recorded as this one's rollback (its id, its finish).
    rolled_back_by uuid,
    rolled_back_at timestamptz,
    commits integer NOT NULL,
    feedback_refs text[] NOT NULL DEFAULT '{}',
    decision_refs text[] NOT NULL DEFAULT '{}',
    external_ref text,
    version integer NOT NULL,
    position bigint NOT NULL
);
CREATE TABLE increment_commits (
    increment_id uuid NOT NULL,
    sha text NOT NULL,
    authored_at timestamptz NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (increment_id, sha)
);
CREATE INDEX ON increment_commits (sha);
-- Per (service, commit): its first successful production deployment.
CREATE TABLE commit_deployments (
    service text NOT NULL,
    sha text NOT NULL,
    authored_at timestamptz NOT NULL,
    deployed_at timestamptz NOT NULL,
    increment_id uuid NOT NULL,
    PRIMARY KEY (service, sha)
);
CREATE INDEX ON commit_deployments (increment_id);
CREATE TABLE incidents (
    id uuid PRIMARY KEY,
    service text NOT NULL,
    title text NOT NULL,
    opened_at timestamptz NOT NULL,
    resolved_at timestamptz,
    caused_by_sha text,
    caused_by_increment_id uuid,
    status text NOT NULL,
    resolution text,
    external_ref text,
    version integer NOT NULL,
    position bigint NOT NULL
);
"""

INDEXES = """
CREATE INDEX ON increments (service, finished_at);
CREATE INDEX ON increments (production, finished_at);
CREATE INDEX ON increments (commit_sha);
CREATE INDEX ON commit_deployments (service, deployed_at);
CREATE INDEX ON incidents (service, opened_at);
"""

_FIRST_DEPLOYMENT = """
INSERT INTO commit_deployments AS d (service, sha, authored_at, deployed_at, increment_id)
SELECT DISTINCT ON (c.sha) i.service, c.sha, c.authored_at, i.finished_at, i.id
FROM increment_commits c JOIN increments i ON i.id = c.increment_id
WHERE c.sha = ANY($1::text[]) AND i.service = $2
  AND i.production AND i.status = 'succeeded'
ORDER BY c.sha, i.finished_at, i.id
ON CONFLICT (service, sha) DO UPDATE
SET deployed_at = EXCLUDED.deployed_at, increment_id = EXCLUDED.increment_id,
    authored_at = EXCLUDED.authored_at
WHERE EXCLUDED.deployed_at < d.deployed_at
"""


_INCREMENT_COLUMNS = [
    "id",
    "service",
    "environment",
    "production",
    "release_version",
    "commit_sha",
    "started_at",
    "finished_at",
    "status",
    "commits",
    "feedback_refs",
    "decision_refs",
    "external_ref",
    "version",
    "position",
]


class Delivery(Projection):
    """Deployments, commits and incidents."""

    name = "delivery"
    version = 3
    tables = ("increments", "increment_commits", "commit_deployments", "incidents")
    topics = events_of(
        Increment, "Recorded", "MarkedFailed", "RolledBack", "RolledBackBy"
    ) + events_of(Incident, "Opened", "CauseAttributed", "Resolved")

    def __init__(self, production_environments: Sequence[str] = PRODUCTION_ENVIRONMENTS) -> None:
        self.production = {p.lower() for p in production_environments}

    def schema_sql(self) -> str:
        return SCHEMA

    def index_sql(self) -> str:
        return INDEXES

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        increments: list[tuple[Any, ...]] = []
        commits: list[tuple[Any, ...]] = []
        firsts: list[tuple[Any, ...]] = []
        for position, e in events:
            kind = type(e).__qualname__
            if kind == "Increment.Recorded":
                production = e.environment.lower() in self.production
                status = "succeeded" if e.succeeded else "failed"
                increments.append(
                    (
                        e.originator_id,
                        e.service,
                        e.environment,
                        production,
                        e.release_version,
                        e.commit_sha,
                        e.started_at,
                        e.finished_at,
                        status,
                        len(e.commits),
                        list(e.feedback_refs),
                        list(e.decision_refs),
                        e.external_ref,
                        e.originator_version,
                        position,
                    )
                )
                commits.extend(
                    (e.originator_id, c.sha, c.authored_at, c.message) for c in e.commits
                )
                if production and e.succeeded and e.commits:
                    firsts.extend(
                        (e.service, c.sha, c.authored_at, e.finished_at, e.originator_id)
                        for c in e.commits
                    )
                continue
            await self._flush(conn, increments, commits, firsts)
            await self._change(conn, kind, position, e)
        await self._flush(conn, increments, commits, firsts)

    @staticmethod
    async def _flush(
        conn: Connection,
        increments: list[tuple[Any, ...]],
        commits: list[tuple[Any, ...]],
        firsts: list[tuple[Any, ...]],
    ) -> None:
        # New rows, one COPY per table (an increment and its commits are recorded once).
        if increments:
            await conn.copy_records_to_table(
                "increments", records=increments, columns=_INCREMENT_COLUMNS
            )
        if commits:
            await conn.copy_records_to_table(
                "increment_commits",
                records=commits,
                columns=["increment_id", "sha", "authored_at", "message"],
            )
        if firsts:
            await conn.executemany(
                "INSERT INTO commit_deployments AS d VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (service, sha) DO UPDATE SET deployed_at = EXCLUDED.deployed_at, "
                "increment_id = EXCLUDED.increment_id, authored_at = EXCLUDED.authored_at "
                "WHERE EXCLUDED.deployed_at < d.deployed_at",
                firsts,
            )
        increments.clear()
        commits.clear()
        firsts.clear()

    async def _change(self, conn: Connection, kind: str, position: int, e: Any) -> None:
        oid = e.originator_id
        if kind in ("Increment.MarkedFailed", "Increment.RolledBack", "Increment.RolledBackBy"):
            status = "failed" if kind == "Increment.MarkedFailed" else "rolled_back"
            by = kind == "Increment.RolledBackBy"
            service = await conn.fetchval(
                "UPDATE increments SET status = $2, reason = $3, version = $4, position = $5, "
                "rolled_back_by = $6, rolled_back_at = $7 WHERE id = $1 RETURNING service",
                oid,
                status,
                f"rolled back by increment {e.rollback_id}" if by else e.reason,
                e.originator_version,
                position,
                e.rollback_id if by else None,
                e.rolled_back_at if by else None,
            )
            # Its commits' first successful deployment may now be a later one.
            shas = [
                r[0]
                for r in await conn.fetch(
                    "DELETE FROM commit_deployments WHERE increment_id = $1 RETURNING sha", oid
                )
            ]
            if shas:
                await conn.execute(_FIRST_DEPLOYMENT, shas, service)
        elif kind == "Incident.Opened":
            await conn.execute(
                "INSERT INTO incidents (id, service, title, opened_at, caused_by_sha, "
                "caused_by_increment_id, status, external_ref, version, position) "
                "VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9)",
                oid,
                e.service,
                e.title,
                e.opened_at,
                e.caused_by_sha,
                e.caused_by_increment_id,
                e.external_ref,
                e.originator_version,
                position,
            )
        elif kind == "Incident.CauseAttributed":
            await conn.execute(
                "UPDATE incidents SET caused_by_sha = $2, caused_by_increment_id = $3, "
                "version = $4, position = $5 WHERE id = $1",
                oid,
                e.caused_by_sha,
                e.caused_by_increment_id,
                e.originator_version,
                position,
            )
        elif kind == "Incident.Resolved":
            await conn.execute(
                "UPDATE incidents SET status = 'resolved', resolved_at = $2, resolution = $3, "
                "version = $4, position = $5 WHERE id = $1",
                oid,
                e.resolved_at,
                e.resolution,
                e.originator_version,
                position,
            )
