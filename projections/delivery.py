"""Increments (deployments) with the commits they carry, each commit's first successful
production deployment, and incidents tied to the deployment that caused them: the raw
material of the DORA measures, kept ready so that a DORA question reads index ranges.

An incident's tie (docs/metrics.md, "Change failure rate") depends on deployments that may
be recorded after it (imported history), so it is kept up to date as they arrive: each
batch re-ties the incidents it touched and those a new production deployment could take
over. A build fills the tables without first deployments and ties, works out every
commit's first deployment and ties every incident in one statement each when it has caught
up (`index_sql`), when the indexes the ties need exist."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.incident import Incident
from domain.increment import PRODUCTION_ENVIRONMENTS, Increment
from domain.vocabulary import IncidentStatus, IncrementStatus
from infra.database import Connection
from projections.base import Positioned, Projection, events_of
from projections.paging import (
    DEFAULT_LIMIT,
    Page,
    Row,
    cursor_uuid,
    decode,
    decode_cursor,
    encode_cursor,
    page_limit,
    statuses,
    team_ref,
)
from projections.reads import reads
from projections.rows import MERGE_FROM, Rows

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
    -- How many incidents are tied to this deployment (its change failure mark).
    incidents integer NOT NULL DEFAULT 0,
    commits integer NOT NULL,
    feedback_refs text[] NOT NULL DEFAULT '{}',
    decision_refs text[] NOT NULL DEFAULT '{}',
    external_ref text,
    version integer NOT NULL,
    position bigint NOT NULL
);
-- Unique on (increment_id, sha) (the domain refuses a sha twice in one increment). This
-- table, `commit_deployments` and their keys grow with every deployment and are keyed at
-- random (uuids, shas): a build writes them unindexed and indexes them once it has caught up
-- (see INDEXES), so the cost of a batch never depends on the history behind it.
CREATE TABLE increment_commits (
    increment_id uuid NOT NULL,
    sha text NOT NULL,
    authored_at timestamptz NOT NULL,
    message text NOT NULL
);
-- Per (service, commit): its first successful production deployment (primary key
-- (service, sha), added with the table's contents when a build has caught up).
CREATE TABLE commit_deployments (
    service text NOT NULL,
    sha text NOT NULL,
    authored_at timestamptz NOT NULL,
    deployed_at timestamptz NOT NULL,
    increment_id uuid NOT NULL,
    -- Its lead time for changes (seconds), worked out once rather than per question.
    lead_seconds float8 GENERATED ALWAYS AS (extract(epoch FROM deployed_at - authored_at))
        STORED,
    -- A coarse rank of the lead time, never smaller for a longer one (a fourth root, scaled:
    -- square roots, products and floor keep the order), so that an exact percentile finds
    -- the bucket holding its rank from the counts in `commit_days` and sorts only that bucket.
    lead_bucket integer GENERATED ALWAYS AS (
        floor(sqrt(sqrt(greatest(extract(epoch FROM deployed_at - authored_at)::float8, 0))) * 8)
    ) STORED
);
-- Per service, day (UTC) and lead bucket: the commits first deployed that day and the exact
-- sum of their lead times, so that a window's count, mean and rank search read its whole
-- days here and only its two partial days from `commit_deployments`.
CREATE TABLE commit_days (
    service text NOT NULL,
    day date NOT NULL,
    bucket integer NOT NULL,
    commits integer NOT NULL,
    seconds numeric NOT NULL,
    PRIMARY KEY (service, day, bucket) INCLUDE (commits, seconds)
);
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
    -- The production deployment it is tied to, with that deployment's finish and rollback.
    tied_increment_id uuid,
    tied_deployed_at timestamptz,
    tied_rolled_back_at timestamptz,
    version integer NOT NULL,
    position bigint NOT NULL
);
-- Per service and day (UTC): production deployments, the successful ones, the failed ones
-- (failed, rolled back or tied to an incident) and the first successful one's finish, so
-- that a window's counts read its whole days here and only its two partial days from
-- `increments`.
CREATE TABLE deployment_days (
    service text NOT NULL,
    day date NOT NULL,
    deployments integer NOT NULL,
    succeeded integer NOT NULL,
    failed integer NOT NULL,
    first_succeeded_at timestamptz,
    PRIMARY KEY (service, day)
);
-- What is kept per batch: the commits' first deployments (`firsts`), then ties and days,
-- deployments' and commits' (`ready`). A build sets each once it has caught up and filled
-- them in bulk.
CREATE TABLE delivery_ties (firsts boolean NOT NULL, ready boolean NOT NULL);
INSERT INTO delivery_ties VALUES (false, false);
"""

# Which production deployment an incident is tied to: the increment it names, else the
# first production deployment carrying the sha it names (preferring its own service), else
# the last production deployment of its service that finished before it opened.
_TIE = """
SELECT n.id,
       coalesce(
           (SELECT i.id FROM increments i
            WHERE i.id = n.caused_by_increment_id AND i.production),
           (SELECT i.id FROM increments i
            WHERE i.production
              AND i.id IN (SELECT x.id FROM increments x WHERE x.commit_sha = n.caused_by_sha
                           UNION ALL
                           SELECT c.increment_id FROM increment_commits c
                           WHERE c.sha = n.caused_by_sha)
            ORDER BY i.service = n.service DESC, i.finished_at, i.id
            LIMIT 1),
           (SELECT i.id FROM increments i
            WHERE i.production AND i.service = n.service AND i.finished_at < n.opened_at
            ORDER BY i.finished_at DESC, i.id DESC
            LIMIT 1)
       ) AS increment_id
FROM incidents n
"""

# A day's figures over its production deployments `i` (see `deployment_days`).
_DAY_FIGURES = """count(*)::int, count(*) FILTER (WHERE i.status = 'succeeded')::int,
       count(*) FILTER (WHERE i.status IN ('failed', 'rolled_back') OR i.incidents > 0)::int,
       min(i.finished_at) FILTER (WHERE i.status = 'succeeded')"""

# A day's lead bucket figures over its commits `c` (see `commit_days`; grouped by bucket).
_COMMIT_DAY_FIGURES = "c.lead_bucket, count(*)::int, sum(c.lead_seconds::numeric)"

# Recount the commit days ($1 services, $2 days) from their commits, in two statements (a
# bucket may empty).
_FORGET_COMMIT_DAYS = """
DELETE FROM commit_days d USING unnest($1::text[], $2::date[]) AS u(service, day)
WHERE d.service = u.service AND d.day = u.day
"""
_RECOUNT_COMMIT_DAYS = f"""
INSERT INTO commit_days
SELECT t.service, t.day, {_COMMIT_DAY_FIGURES}
FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::date[]) AS u(service, day)) t
JOIN commit_deployments c ON c.service = t.service
     AND c.deployed_at >= t.day::timestamp AT TIME ZONE 'UTC'
     AND c.deployed_at < (t.day + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY t.service, t.day, c.lead_bucket
"""

# Recount the days ($1 services, $2 days) from their deployments.
_RECOUNT = f"""
INSERT INTO deployment_days AS d
SELECT t.service, t.day, {_DAY_FIGURES}
FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::date[]) AS u(service, day)) t
JOIN increments i ON i.service = t.service AND i.production
     AND i.finished_at >= t.day::timestamp AT TIME ZONE 'UTC'
     AND i.finished_at < (t.day + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY t.service, t.day
ON CONFLICT (service, day) DO UPDATE
SET deployments = EXCLUDED.deployments, succeeded = EXCLUDED.succeeded,
    failed = EXCLUDED.failed, first_succeeded_at = EXCLUDED.first_succeeded_at
"""

# The covering indexes make a DORA question a few index range scans (a window of a
# service's deployments, commits, incidents; or of all of them), never a table read.
INDEXES = f"""
-- The statements before the indexes sort and hash a whole build's rows: in memory where
-- they fit (the runner gives index builds their memory, not these).
SET LOCAL work_mem TO '256MB';
-- A build has caught up: each commit's first deployment, all at once (one sort of the
-- commits instead of a key lookup per commit and batch), its key, then kept per batch (the
-- batches a restarted worker applies before its indexes are built included).
INSERT INTO commit_deployments (service, sha, authored_at, deployed_at, increment_id)
SELECT DISTINCT ON (i.service, c.sha) i.service, c.sha, c.authored_at, i.finished_at, i.id
FROM increment_commits c JOIN increments i ON i.id = c.increment_id
WHERE i.production AND i.status = 'succeeded'
ORDER BY i.service, c.sha, i.finished_at, i.id;
ALTER TABLE commit_deployments ADD PRIMARY KEY (service, sha);
UPDATE delivery_ties SET firsts = true;
CREATE UNIQUE INDEX ON increment_commits (increment_id, sha);
CREATE INDEX ON increment_commits (sha);
CREATE INDEX ON commit_deployments (increment_id);
CREATE INDEX ON increments (service, finished_at)
    INCLUDE (production, status, incidents, rolled_back_at);
CREATE INDEX ON increments (finished_at) INCLUDE (status, incidents, rolled_back_at)
    WHERE production;
CREATE INDEX ON increments (commit_sha);
CREATE INDEX ON increments (service, finished_at) INCLUDE (rolled_back_at, incidents)
    WHERE production AND rolled_back_at IS NOT NULL;
CREATE INDEX ON commit_deployments (service, deployed_at) INCLUDE (lead_seconds, lead_bucket);
CREATE INDEX ON commit_deployments (deployed_at) INCLUDE (lead_seconds, lead_bucket);
CREATE INDEX ON commit_deployments (service, lead_bucket, deployed_at) INCLUDE (lead_seconds);
CREATE INDEX ON commit_deployments (lead_bucket, deployed_at) INCLUDE (lead_seconds);
CREATE INDEX ON commit_days (day) INCLUDE (bucket, commits, seconds);
CREATE INDEX ON incidents (service, opened_at)
    INCLUDE (resolved_at, tied_deployed_at, tied_rolled_back_at);
CREATE INDEX ON incidents (opened_at) INCLUDE (resolved_at, tied_deployed_at, tied_rolled_back_at);
CREATE INDEX ON incidents (tied_increment_id);
CREATE INDEX ON incidents (caused_by_increment_id);
CREATE INDEX ON incidents (caused_by_sha);
-- A build has caught up: tie every incident at once, then keep ties per batch.
UPDATE incidents m
SET tied_increment_id = t.increment_id, tied_deployed_at = i.finished_at,
    tied_rolled_back_at = i.rolled_back_at
FROM ({_TIE}) t LEFT JOIN increments i ON i.id = t.increment_id
WHERE m.id = t.id;
UPDATE increments i SET incidents = c.n
FROM (SELECT tied_increment_id AS id, count(*)::int AS n FROM incidents
      WHERE tied_increment_id IS NOT NULL GROUP BY tied_increment_id) c
WHERE i.id = c.id;
INSERT INTO deployment_days
SELECT service, (finished_at AT TIME ZONE 'UTC')::date, {_DAY_FIGURES}
FROM increments i WHERE production
GROUP BY 1, 2;
INSERT INTO commit_days
SELECT service, (deployed_at AT TIME ZONE 'UTC')::date, {_COMMIT_DAY_FIGURES}
FROM commit_deployments c
GROUP BY 1, 2, 3;
UPDATE delivery_ties SET ready = true;
"""

# The incidents a batch may have re-tied: those it opened or changed ($1), those naming a
# new production deployment ($2) or a sha it carries ($3), those of its services that
# opened after a new deployment ($4, $5) which finished no earlier than their tie, and
# those tied to a deployment whose rollback changed ($6).
_CANDIDATES = """
SELECT unnest($1::uuid[])
UNION
SELECT n.id FROM incidents n
WHERE n.caused_by_increment_id = ANY($2::uuid[]) OR n.caused_by_sha = ANY($3::text[])
UNION
SELECT n.id FROM unnest($4::text[], $5::timestamptz[]) AS w(service, finished_at)
JOIN incidents n ON n.service = w.service AND n.opened_at > w.finished_at
     AND (n.tied_deployed_at IS NULL OR n.tied_deployed_at <= w.finished_at)
UNION
SELECT n.id FROM incidents n WHERE n.tied_increment_id = ANY($6::uuid[])
"""

# Re-tie the incidents $1, moving each change failure mark with its tie.
_RETIE = f"""
WITH fresh AS ({_TIE} WHERE n.id = ANY($1::uuid[])),
moved AS (
    SELECT m.tied_increment_id AS before, f.increment_id AS after
    FROM incidents m JOIN fresh f ON f.id = m.id
    WHERE m.tied_increment_id IS DISTINCT FROM f.increment_id
),
marks AS (
    SELECT id, sum(d)::int AS d
    FROM (SELECT before AS id, -1 AS d FROM moved WHERE before IS NOT NULL
          UNION ALL
          SELECT after, 1 FROM moved WHERE after IS NOT NULL) x
    GROUP BY id
),
counted AS (
    UPDATE increments i SET incidents = i.incidents + m.d
    FROM marks m WHERE i.id = m.id AND m.d <> 0
    RETURNING i.service, (i.finished_at AT TIME ZONE 'UTC')::date AS day
),
tied AS (
    UPDATE incidents m
    SET tied_increment_id = f.increment_id, tied_deployed_at = i.finished_at,
        tied_rolled_back_at = i.rolled_back_at
    FROM fresh f LEFT JOIN increments i ON i.id = f.increment_id
    WHERE m.id = f.id
)
SELECT service, day FROM counted
"""
"""Re-tie the incidents $1; answers the days of the deployments whose mark moved."""

# The (service, UTC day) of each commit deployment a statement wrote or moved.
_DAY = "(deployed_at AT TIME ZONE 'UTC')::date"

# Each (service, commit) of the given increments (all of one batch, given as one row per
# commit with the increment's row as the batch left it: the tables are not read, so the
# cost stays that of the batch however long the history) that a successful production
# deployment carries, with its earliest such deployment (by finish, then id: the same one
# whatever the batches were); kept when earlier than the one recorded.
# Answers the days it changed (the day a moved commit left, the day it arrived).
_FIRSTS = f"""
WITH firsts AS (
    SELECT DISTINCT ON (i.service, i.sha) i.service, i.sha, i.authored_at,
           i.finished_at AS deployed_at, i.id AS increment_id
    FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::text[], $5::timestamptz[],
                $6::text[], $7::timestamptz[])
         AS i(id, service, production, status, finished_at, sha, authored_at)
    WHERE i.production AND i.status = 'succeeded'
    ORDER BY i.service, i.sha, i.finished_at, i.id
),
earlier AS (
    SELECT d.service, d.sha, d.deployed_at
    FROM commit_deployments d JOIN firsts f ON f.service = d.service AND f.sha = d.sha
),
written AS (
    INSERT INTO commit_deployments AS d (service, sha, authored_at, deployed_at, increment_id)
    SELECT service, sha, authored_at, deployed_at, increment_id FROM firsts
    ON CONFLICT (service, sha) DO UPDATE
    SET deployed_at = EXCLUDED.deployed_at, increment_id = EXCLUDED.increment_id,
        authored_at = EXCLUDED.authored_at
    WHERE (EXCLUDED.deployed_at, EXCLUDED.increment_id) < (d.deployed_at, d.increment_id)
    RETURNING d.service, d.sha, d.deployed_at
)
SELECT service, {_DAY} AS day FROM written
UNION
SELECT e.service, (e.deployed_at AT TIME ZONE 'UTC')::date
FROM earlier e JOIN written w ON w.service = e.service AND w.sha = e.sha
"""

# The increments that stopped counting (failed, rolled back) lose their commits' first
# deployments, which fall to the next successful production deployment carrying each.
# Answers the days it changed.
_REDEPLOYED = f"""
WITH lost AS (
    DELETE FROM commit_deployments WHERE increment_id = ANY($1::uuid[])
    RETURNING service, sha, deployed_at
),
found AS (
    INSERT INTO commit_deployments (service, sha, authored_at, deployed_at, increment_id)
    SELECT DISTINCT ON (l.service, l.sha) l.service, l.sha, c.authored_at, i.finished_at, i.id
    FROM lost l
    JOIN increment_commits c ON c.sha = l.sha
    JOIN increments i ON i.id = c.increment_id AND i.service = l.service
    WHERE i.production AND i.status = 'succeeded'
    ORDER BY l.service, l.sha, i.finished_at, i.id
    RETURNING service, deployed_at
)
SELECT service, {_DAY} AS day FROM lost
UNION
SELECT service, {_DAY} FROM found
"""

INCREMENT_COLUMNS = (
    "id",
    "service",
    "environment",
    "production",
    "release_version",
    "commit_sha",
    "started_at",
    "finished_at",
    "status",
    "reason",
    "rolled_back_by",
    "rolled_back_at",
    "commits",
    "feedback_refs",
    "decision_refs",
    "external_ref",
    "version",
    "position",
)

INCIDENT_COLUMNS = (
    "id",
    "service",
    "title",
    "opened_at",
    "resolved_at",
    "caused_by_sha",
    "caused_by_increment_id",
    "status",
    "resolution",
    "external_ref",
    "version",
    "position",
)


# The events that create an increment's or an incident's row.
_CREATING = frozenset(("Increment.Recorded", "Incident.Opened"))


class Delivery(Projection):
    """Deployments, commits and incidents, written set by set: each batch's rows with one
    COPY or merge per table, and the commits' first deployments with one statement."""

    name = "delivery"
    version = 9
    tables = (
        "increments",
        "increment_commits",
        "commit_deployments",
        "incidents",
        "deployment_days",
        "commit_days",
    )
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
        increments = Rows("increments", "id", INCREMENT_COLUMNS)
        incidents = Rows("incidents", "id", INCIDENT_COLUMNS)
        kinds = [(position, type(e).__qualname__, e) for position, e in events]
        # An increment recorded or an incident opened in this batch is created by it
        # (events are applied once): only the others are looked for in the tables.
        created = {e.originator_id for _, kind, e in kinds if kind in _CREATING}
        await increments.load(
            conn,
            (
                e.originator_id
                for _, kind, e in kinds
                if kind.startswith("Increment.") and e.originator_id not in created
            ),
        )
        await incidents.load(
            conn,
            (
                e.originator_id
                for _, kind, e in kinds
                if kind.startswith("Incident.") and e.originator_id not in created
            ),
        )
        commits: list[tuple[Any, ...]] = []
        stopped: list[Any] = []
        ties = _Touched()
        for position, kind, e in kinds:
            oid = e.originator_id
            if kind == "Increment.Recorded":
                production = e.environment.lower() in self.production
                if production:
                    ties.deployed(e)
                increments.add(
                    {
                        "id": oid,
                        "service": e.service,
                        "environment": e.environment,
                        "production": production,
                        "release_version": e.release_version,
                        "commit_sha": e.commit_sha,
                        "started_at": e.started_at,
                        "finished_at": e.finished_at,
                        "status": "succeeded" if e.succeeded else "failed",
                        "commits": len(e.commits),
                        "feedback_refs": list(e.feedback_refs),
                        "decision_refs": list(e.decision_refs),
                        "external_ref": e.external_ref,
                    },
                    new=True,
                )
                commits.extend((oid, c.sha, c.authored_at, c.message) for c in e.commits)
            elif kind.startswith("Increment."):
                by = kind == "Increment.RolledBackBy"
                increments.change(
                    oid,
                    status="failed" if kind == "Increment.MarkedFailed" else "rolled_back",
                    reason=f"rolled back by increment {e.rollback_id}" if by else e.reason,
                    rolled_back_by=e.rollback_id if by else None,
                    rolled_back_at=e.rolled_back_at if by else None,
                )
                stopped.append(oid)
                ties.changed.append(oid)
            elif kind == "Incident.Opened":
                incidents.add(
                    {
                        "id": oid,
                        "service": e.service,
                        "title": e.title,
                        "opened_at": e.opened_at,
                        "caused_by_sha": e.caused_by_sha,
                        "caused_by_increment_id": e.caused_by_increment_id,
                        "status": "open",
                        "external_ref": e.external_ref,
                    },
                    new=True,
                )
            elif kind == "Incident.CauseAttributed":
                incidents.change(
                    oid,
                    caused_by_sha=e.caused_by_sha,
                    caused_by_increment_id=e.caused_by_increment_id,
                )
            elif kind == "Incident.Resolved":
                incidents.change(
                    oid, status="resolved", resolved_at=e.resolved_at, resolution=e.resolution
                )
            if kind.startswith("Incident."):
                ties.incidents.append(oid)
            rows = increments if kind.startswith("Increment.") else incidents
            rows.change(oid, version=e.originator_version, position=position)
        await increments.flush(conn)
        await incidents.flush(conn)
        # An increment and its commits are recorded once.
        if len(commits) >= MERGE_FROM:
            await conn.copy_records_to_table(
                "increment_commits",
                records=commits,
                columns=["increment_id", "sha", "authored_at", "message"],
            )
        elif commits:
            await conn.executemany("INSERT INTO increment_commits VALUES ($1, $2, $3, $4)", commits)
        if not (commits or stopped or ties):
            return
        kept = await conn.fetchrow("SELECT firsts, ready FROM delivery_ties")
        assert kept is not None
        moved: list[tuple[str, Any]] = []
        if commits and kept["firsts"]:
            carried = _FirstsOf(increments, commits)
            moved.extend(tuple(r) for r in await conn.fetch(_FIRSTS, *carried.columns))
        if stopped and kept["firsts"]:
            moved.extend(tuple(r) for r in await conn.fetch(_REDEPLOYED, stopped))
        if (ties or moved) and kept["ready"]:
            if ties:
                await ties.retie(conn)
            if moved:
                days = [[m[0] for m in moved], [m[1] for m in moved]]
                await conn.execute(_FORGET_COMMIT_DAYS, *days)
                await conn.execute(_RECOUNT_COMMIT_DAYS, *days)


class _FirstsOf:
    """`_FIRSTS`'s parameters: a row per commit of the increments recorded in a batch,
    each with its increment's row as the batch left it (from `rows`, already flushed)."""

    def __init__(self, rows: Rows, commits: Sequence[tuple[Any, ...]]) -> None:
        self.columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
        ids, services, production, status, finished, shas, authored = self.columns
        for increment_id, sha, authored_at, _ in commits:
            row = rows.get(increment_id)
            assert row is not None, "an increment recorded in the batch is in its rows"
            ids.append(increment_id)
            services.append(row["service"])
            production.append(row["production"])
            status.append(row["status"])
            finished.append(row["finished_at"])
            shas.append(sha)
            authored.append(authored_at)


class _Touched:
    """What a batch did that may move incidents' ties."""

    def __init__(self) -> None:
        self.incidents: list[Any] = []
        self.changed: list[Any] = []
        self.ids: list[Any] = []
        self.services: list[str] = []
        self.finished: list[Any] = []
        self.shas: list[str] = []
        self.days: list[tuple[str, Any]] = []

    def deployed(self, e: Any) -> None:
        """A new production deployment `e` (an `Increment.Recorded`)."""
        self.ids.append(e.originator_id)
        self.services.append(e.service)
        self.finished.append(e.finished_at)
        self.days.append((e.service, e.finished_at.astimezone(UTC).date()))
        if e.commit_sha:
            self.shas.append(e.commit_sha)
        self.shas.extend(c.sha for c in e.commits)

    def __bool__(self) -> bool:
        return bool(self.incidents or self.changed or self.ids)

    async def retie(self, conn: Connection) -> None:
        """Re-tie what may have moved, then recount the days whose figures may have."""
        days: list[tuple[str, Any]] = list(self.days)
        if self.changed:
            days.extend(
                tuple(r)
                for r in await conn.fetch(
                    "SELECT service, (finished_at AT TIME ZONE 'UTC')::date FROM increments "
                    "WHERE id = ANY($1::uuid[]) AND production",
                    self.changed,
                )
            )
        found = [
            r[0]
            for r in await conn.fetch(
                _CANDIDATES,
                self.incidents,
                self.ids,
                self.shas,
                self.services,
                self.finished,
                self.changed,
            )
        ]
        if found:
            days.extend(tuple(r) for r in await conn.fetch(_RETIE, found))
        if days:
            await conn.execute(_RECOUNT, [d[0] for d in days], [d[1] for d in days])


# --- queries: increments and incidents ---------------------------------------------


class IncrementItem(Row, frozen=True, kw_only=True):
    """A recorded increment (deployment), with the feedback and decision keys it named."""

    id: UUID
    service: str
    team_id: UUID | None
    team: str | None
    environment: str
    production: bool
    release_version: str | None
    commit_sha: str | None
    started_at: datetime
    finished_at: datetime
    status: IncrementStatus
    reason: str | None
    commits: int
    feedback_refs: list[str]
    decision_refs: list[str]
    external_ref: str | None
    version: int
    position: int


class IncrementPage(Page[IncrementItem], frozen=True, kw_only=True):
    """A page of increments."""

    items: list[IncrementItem]  # restated for the OpenAPI document, as in FeedbackPage


_LIST_INCREMENTS = """
SELECT i.id, i.service, r.team_id, t.slug AS team, i.environment, i.production,
       i.release_version, i.commit_sha, i.started_at, i.finished_at, i.status, i.reason,
       i.commits, i.feedback_refs, i.decision_refs, i.external_ref, i.version, i.position
FROM read.increments i
LEFT JOIN read.team_repositories r ON r.repository = i.service
LEFT JOIN read.teams t ON t.id = r.team_id
WHERE ($1::text IS NULL
       OR r.team_id IN (SELECT id FROM read.teams WHERE slug = $1 OR id::text = $1))
  AND ($2::text IS NULL OR i.service = $2)
  AND ($3::boolean IS NULL OR i.production = $3)
  AND ($4::text[] IS NULL OR i.status = ANY($4))
  AND ($5::timestamptz IS NULL OR (i.finished_at, i.id) < ($5, $6::uuid))
ORDER BY i.finished_at DESC, i.id DESC
LIMIT $7
"""


@reads("delivery", "directory")
async def list_increments(
    conn: Connection,
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    production: bool | None = None,
    status: str | Sequence[str] | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> IncrementPage:
    """Increments, most recently finished first. `team` selects the services it owns;
    `status` is succeeded, failed or rolled_back."""
    after_at, after_id = None, None
    if cursor is not None:
        after_at, raw_id = decode_cursor(cursor)
        after_id = cursor_uuid(raw_id)
    size = page_limit(limit)
    rows = await conn.fetch(
        _LIST_INCREMENTS,
        team_ref(team),
        service.strip().lower() if service else None,
        production,
        statuses(status),
        after_at,
        after_id,
        size + 1,
    )
    items = [decode(r, IncrementItem) for r in rows[:size]]
    last = items[-1] if items and len(rows) > size else None
    return IncrementPage(
        items=items, next_cursor=encode_cursor(last.finished_at, last.id) if last else None
    )


class IncidentItem(Row, frozen=True, kw_only=True):
    """A production incident."""

    id: UUID
    service: str
    team_id: UUID | None
    team: str | None
    title: str
    status: IncidentStatus
    opened_at: datetime
    resolved_at: datetime | None
    caused_by_sha: str | None
    caused_by_increment_id: UUID | None
    resolution: str | None
    external_ref: str | None
    version: int
    position: int


class IncidentPage(Page[IncidentItem], frozen=True, kw_only=True):
    """A page of incidents."""

    items: list[IncidentItem]  # restated for the OpenAPI document, as in FeedbackPage


_LIST_INCIDENTS = """
SELECT n.id, n.service, r.team_id, t.slug AS team, n.title, n.status, n.opened_at,
       n.resolved_at, n.caused_by_sha, n.caused_by_increment_id, n.resolution,
       n.external_ref, n.version, n.position
FROM read.incidents n
LEFT JOIN read.team_repositories r ON r.repository = n.service
LEFT JOIN read.teams t ON t.id = r.team_id
WHERE ($1::text IS NULL
       OR r.team_id IN (SELECT id FROM read.teams WHERE slug = $1 OR id::text = $1))
  AND ($2::text IS NULL OR n.service = $2)
  AND ($3::text[] IS NULL OR n.status = ANY($3))
  AND ($4::timestamptz IS NULL OR (n.opened_at, n.id) < ($4, $5::uuid))
ORDER BY n.opened_at DESC, n.id DESC
LIMIT $6
"""


@reads("delivery", "directory")
async def list_incidents(
    conn: Connection,
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    status: str | Sequence[str] | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> IncidentPage:
    """Incidents, most recently opened first; `status` is open or resolved."""
    after_at, after_id = None, None
    if cursor is not None:
        after_at, raw_id = decode_cursor(cursor)
        after_id = cursor_uuid(raw_id)
    size = page_limit(limit)
    rows = await conn.fetch(
        _LIST_INCIDENTS,
        team_ref(team),
        service.strip().lower() if service else None,
        statuses(status),
        after_at,
        after_id,
        size + 1,
    )
    items = [decode(r, IncidentItem) for r in rows[:size]]
    last = items[-1] if items and len(rows) > size else None
    return IncidentPage(
        items=items, next_cursor=encode_cursor(last.opened_at, last.id) if last else None
    )
