"""Pull-request lead time: merged pull requests (its read model) and where each change's
time went, coding, review and deploy, per team or service. Definitions: docs/metrics.md.

A pull request reaches production with the first successful production deployment of its
service that carries its merge commit (as the deployment's head or among its commits).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.pull_request import PullRequest
from infra.database import Connection
from projections.base import Positioned, Projection, events_of
from projections.metrics import Figures, Window, figures
from projections.paging import InvalidQuery, Row, team_ref
from projections.reads import reads

SCHEMA = """
CREATE TABLE pull_requests (
    id uuid PRIMARY KEY,
    service text NOT NULL,
    ref text NOT NULL,
    title text,
    first_commit_at timestamptz,
    opened_at timestamptz NOT NULL,
    merged_at timestamptz NOT NULL,
    merge_sha text NOT NULL,
    position bigint NOT NULL
);
"""

INDEXES = """
CREATE INDEX ON pull_requests (service, merge_sha);
"""


class PullRequests(Projection):
    """Merged pull requests with their four times."""

    name = "pull_requests"
    version = 1
    tables = ("pull_requests",)
    topics = events_of(PullRequest, "Merged")

    def schema_sql(self) -> str:
        return SCHEMA

    def index_sql(self) -> str:
        return INDEXES

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        rows = [
            (
                e.originator_id,
                e.service,
                e.ref,
                e.title,
                e.first_commit_at,
                e.opened_at,
                e.merged_at,
                e.merge_sha,
                position,
            )
            for position, e in events
        ]
        if rows:
            await conn.executemany(
                "INSERT INTO pull_requests VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                " ON CONFLICT (id) DO NOTHING",
                rows,
            )


# --- the query ---------------------------------------------------------------------------

GROUPINGS = ("team", "service")


class ChangeGroup(Row, frozen=True, kw_only=True):
    """One group's pull requests and commits deployed in the window."""

    group: dict[str, str | None]
    pull_requests: int
    coding: Figures
    review: Figures
    deploy: Figures
    total: Figures
    commits: Figures


class Changes(Row, frozen=True, kw_only=True):
    unit: str = "seconds"
    window: Window
    groups: list[ChangeGroup]


# The services in scope ($1 team, $2 service) and, per service, the owning team.
_SCOPE = """($1::text IS NULL OR {col} IN (
        SELECT r.repository FROM read.team_repositories r JOIN read.teams t ON t.id = r.team_id
        WHERE t.slug = $1 OR t.id::text = $1))
    AND ($2::text IS NULL OR {col} = $2)"""

_CHANGES = f"""
WITH deployed AS (
    SELECT p.service, p.first_commit_at, p.opened_at, p.merged_at,
           (SELECT min(i.finished_at) FROM read.increments i
            WHERE i.service = p.service AND i.production AND i.status = 'succeeded'
              AND (i.commit_sha = p.merge_sha
                   OR i.id IN (SELECT c.increment_id FROM read.increment_commits c
                               WHERE c.sha = p.merge_sha))) AS deployed_at
    FROM read.pull_requests p
    WHERE {_SCOPE.format(col="p.service")}
),
spans AS (
    SELECT d.service,
           -- greatest() skips NULLs: a change whose first commit is unknown has no coding span.
           CASE WHEN d.first_commit_at IS NOT NULL
                THEN greatest(extract(epoch FROM d.opened_at - d.first_commit_at), 0)
           END::float8 AS coding,
           extract(epoch FROM d.merged_at - d.opened_at)::float8 AS review,
           greatest(extract(epoch FROM d.deployed_at - d.merged_at), 0)::float8 AS deploy,
           extract(epoch FROM d.deployed_at - least(coalesce(d.first_commit_at, d.opened_at),
                                                    d.opened_at))::float8 AS total
    FROM deployed d
    WHERE d.deployed_at >= $3 AND ($4::timestamptz IS NULL OR d.deployed_at < $4)
),
commits AS (
    -- Each commit's lead time as DORA counts it, stored once (projections/delivery.py).
    SELECT c.service, c.lead_seconds AS span
    FROM read.commit_deployments c
    WHERE {_SCOPE.format(col="c.service")} AND c.deployed_at >= $3
      AND ($4::timestamptz IS NULL OR c.deployed_at < $4)
),
keyed AS (
    SELECT CASE $5::text WHEN 'service' THEN s.service
                         WHEN 'team' THEN (SELECT r.team_id::text FROM read.team_repositories r
                                           WHERE r.repository = s.service LIMIT 1) END AS key,
           s.coding, s.review, s.deploy, s.total, NULL::float8 AS commit_span
    FROM spans s
    UNION ALL
    SELECT CASE $5::text WHEN 'service' THEN c.service
                         WHEN 'team' THEN (SELECT r.team_id::text FROM read.team_repositories r
                                           WHERE r.repository = c.service LIMIT 1) END,
           NULL, NULL, NULL, NULL, c.span
    FROM commits c
)
"""


def _summary_sql(column: str) -> str:
    """What `projections.metrics.SUMMARY` selects, for one of several span columns."""
    return (
        f"count({column})::int AS {column}_count, avg({column})::float8 AS {column}_mean, "
        f"percentile_cont(ARRAY[0.5, 0.75, 0.85, 0.95]::float8[]) "
        f"WITHIN GROUP (ORDER BY {column}) AS {column}_percentiles"
    )


_COLUMNS = ("coding", "review", "deploy", "total", "commit_span")

_QUERY = (
    _CHANGES
    + f"""
SELECT k.key, t.slug AS label, {", ".join(_summary_sql(c) for c in _COLUMNS)}
FROM keyed k LEFT JOIN read.teams t ON $5 = 'team' AND t.id::text = k.key
GROUP BY k.key, t.slug
ORDER BY coalesce(t.slug, k.key) NULLS LAST
"""
)


@reads("pull_requests", "delivery", "directory")
async def changes(
    conn: Connection,
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    start: datetime,
    end: datetime | None,
    group_by: str | None = None,
    window: Window | None = None,
) -> Changes:
    """Pull requests and commits deployed in [start, end), in one group `{}` or per team or
    service: coding (first commit → opened), review (opened → merged), deploy (merged →
    first production deployment carrying the merge commit) and total (first commit, else
    opened → deployed); `commits` is the per-commit lead time, as DORA counts it. `end`
    None is up to now."""
    if group_by is not None and group_by not in GROUPINGS:
        raise InvalidQuery("group_by", f"one of {', '.join(GROUPINGS)}")
    rows = await conn.fetch(
        _QUERY,
        team_ref(team),
        service.strip().lower() if service else None,
        start,
        end,
        group_by,
    )
    groups = [_group(group_by, r) for r in rows]
    if group_by is None and not groups:
        empty = figures(0, None, None)
        groups = [
            ChangeGroup(
                group={},
                pull_requests=0,
                coding=empty,
                review=empty,
                deploy=empty,
                total=empty,
                commits=empty,
            )
        ]
    return Changes(window=window or Window(start=start, end=end), groups=groups)


def _group(group_by: str | None, r: Any) -> ChangeGroup:
    def of(column: str) -> Figures:
        return figures(r[f"{column}_count"], r[f"{column}_mean"], r[f"{column}_percentiles"])

    key = r["key"]
    if group_by == "team":
        group: dict[str, str | None] = {"team": r["label"], "team_id": key}
    elif group_by == "service":
        group = {"service": key}
    else:
        group = {}
    return ChangeGroup(
        group=group,
        pull_requests=r["total_count"],
        coding=of("coding"),
        review=of("review"),
        deploy=of("deploy"),
        total=of("total"),
        commits=of("commit_span"),
    )
