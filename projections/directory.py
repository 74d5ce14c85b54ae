"""Teams (members by handle and skills, repositories they own) and customer outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.outcome import Outcome
from domain.team import Team
from infra.database import Connection
from projections.base import Positioned, Projection, events_of
from projections.paging import Row, decode, team_ref
from projections.reads import reads

SCHEMA = """
CREATE TABLE teams (
    id uuid PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    formed_at timestamptz NOT NULL,
    outcome_ids uuid[] NOT NULL DEFAULT '{}',
    version integer NOT NULL,
    position bigint NOT NULL
);
CREATE TABLE team_members (
    team_id uuid NOT NULL,
    handle text NOT NULL,
    skills text[] NOT NULL DEFAULT '{}',
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (team_id, handle)
);
CREATE TABLE team_repositories (
    repository text PRIMARY KEY,
    team_id uuid NOT NULL,
    owned_at timestamptz NOT NULL
);
CREATE INDEX ON team_repositories (team_id);
CREATE TABLE outcomes (
    id uuid PRIMARY KEY,
    statement text NOT NULL,
    measure text NOT NULL,
    target text,
    status text NOT NULL,
    team_ids uuid[] NOT NULL DEFAULT '{}',
    defined_at timestamptz NOT NULL,
    retired_reason text,
    version integer NOT NULL,
    position bigint NOT NULL
);
"""

_TEAM_VERSION = "UPDATE teams SET version = $2, position = $3 WHERE id = $1"
_OUTCOME_VERSION = "UPDATE outcomes SET version = $2, position = $3 WHERE id = $1"


class Directory(Projection):
    """Low-volume reference data; applied statement by statement."""

    name = "directory"
    version = 1
    tables = ("teams", "team_members", "team_repositories", "outcomes")
    topics = events_of(
        Team,
        "Formed",
        "Renamed",
        "MemberJoined",
        "MemberSkillsChanged",
        "MemberLeft",
        "OutcomeAdopted",
        "OutcomeDropped",
        "RepositoryOwned",
        "RepositoryDisowned",
    ) + events_of(Outcome, "Defined", "Revised", "TeamAligned", "TeamUnaligned", "Retired")

    def schema_sql(self) -> str:
        return SCHEMA

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        for position, e in events:
            kind = type(e).__qualname__
            oid = e.originator_id
            if kind == "Team.Formed":
                await conn.execute(
                    "INSERT INTO teams (id, slug, name, formed_at, version, position) "
                    "VALUES ($1, $2, $3, $4, 1, $5)",
                    oid,
                    e.slug,
                    e.name,
                    e.formed_at,
                    position,
                )
            elif kind == "Team.Renamed":
                await conn.execute("UPDATE teams SET name = $2 WHERE id = $1", oid, e.name)
            elif kind == "Team.MemberJoined":
                await conn.execute(
                    "INSERT INTO team_members VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (team_id, handle) DO UPDATE SET skills = EXCLUDED.skills",
                    oid,
                    e.handle,
                    list(e.skills),
                    e.joined_at,
                )
            elif kind == "Team.MemberSkillsChanged":
                await conn.execute(
                    "UPDATE team_members SET skills = $3 WHERE team_id = $1 AND handle = $2",
                    oid,
                    e.handle,
                    list(e.skills),
                )
            elif kind == "Team.MemberLeft":
                await conn.execute(
                    "DELETE FROM team_members WHERE team_id = $1 AND handle = $2", oid, e.handle
                )
            elif kind == "Team.OutcomeAdopted":
                await conn.execute(
                    "UPDATE teams SET outcome_ids = "
                    "array_append(array_remove(outcome_ids, $2), $2) WHERE id = $1",
                    oid,
                    e.outcome_id,
                )
            elif kind == "Team.OutcomeDropped":
                await conn.execute(
                    "UPDATE teams SET outcome_ids = array_remove(outcome_ids, $2) WHERE id = $1",
                    oid,
                    e.outcome_id,
                )
            elif kind == "Team.RepositoryOwned":
                await conn.execute(
                    "INSERT INTO team_repositories VALUES ($1, $2, $3) ON CONFLICT (repository) "
                    "DO UPDATE SET team_id = EXCLUDED.team_id, owned_at = EXCLUDED.owned_at",
                    e.repository,
                    oid,
                    e.owned_at,
                )
            elif kind == "Team.RepositoryDisowned":
                await conn.execute(
                    "DELETE FROM team_repositories WHERE repository = $1 AND team_id = $2",
                    e.repository,
                    oid,
                )
            elif kind == "Outcome.Defined":
                await conn.execute(
                    "INSERT INTO outcomes (id, statement, measure, target, status, defined_at, "
                    "version, position) VALUES ($1, $2, $3, $4, 'active', $5, 1, $6)",
                    oid,
                    e.statement,
                    e.measure,
                    e.target,
                    e.defined_at,
                    position,
                )
            elif kind == "Outcome.Revised":
                await conn.execute(
                    "UPDATE outcomes SET statement = $2, measure = $3, target = $4 WHERE id = $1",
                    oid,
                    e.statement,
                    e.measure,
                    e.target,
                )
            elif kind == "Outcome.TeamAligned":
                await conn.execute(
                    "UPDATE outcomes SET team_ids = array_append(array_remove(team_ids, $2), $2) "
                    "WHERE id = $1",
                    oid,
                    e.team_id,
                )
            elif kind == "Outcome.TeamUnaligned":
                await conn.execute(
                    "UPDATE outcomes SET team_ids = array_remove(team_ids, $2) WHERE id = $1",
                    oid,
                    e.team_id,
                )
            elif kind == "Outcome.Retired":
                await conn.execute(
                    "UPDATE outcomes SET status = 'retired', retired_reason = $2 WHERE id = $1",
                    oid,
                    e.reason,
                )
            statement = _TEAM_VERSION if kind.startswith("Team.") else _OUTCOME_VERSION
            await conn.execute(statement, oid, e.originator_version, position)


# --- queries: teams and outcomes ---------------------------------------------------


class MemberItem(Row, frozen=True, kw_only=True):
    handle: str
    skills: list[str]
    joined_at: datetime


class TeamItem(Row, frozen=True, kw_only=True):
    """A team with its members (by handle and skills) and the repositories it owns."""

    id: UUID
    slug: str
    name: str
    formed_at: datetime
    members: list[MemberItem]
    repositories: list[str]
    outcome_ids: list[UUID]
    version: int
    position: int


_TEAMS = """
SELECT t.id, t.slug, t.name, t.formed_at, t.outcome_ids, t.version, t.position,
       coalesce((SELECT json_agg(json_build_object('handle', m.handle, 'skills', m.skills,
                                                   'joined_at', m.joined_at)
                                 ORDER BY m.handle)
                 FROM read.team_members m WHERE m.team_id = t.id), '[]') AS members,
       ARRAY(SELECT r.repository FROM read.team_repositories r WHERE r.team_id = t.id
             ORDER BY r.repository) AS repositories
FROM read.teams t
WHERE ($1::text IS NULL OR t.slug = $1 OR t.id::text = $1)
ORDER BY t.slug
"""


def _team(row: Any) -> TeamItem:
    fields = dict(row)
    fields["members"] = msgspec.json.decode(fields["members"], type=list[MemberItem])
    return msgspec.convert(fields, TeamItem)


@reads("directory")
async def list_teams(conn: Connection) -> list[TeamItem]:
    """Every team, by slug."""
    return [_team(r) for r in await conn.fetch(_TEAMS, None)]


@reads("directory")
async def get_team_item(conn: Connection, team: str | UUID) -> TeamItem | None:
    """One team by id or slug; None when there is none."""
    row = await conn.fetchrow(_TEAMS, team_ref(team))
    return None if row is None else _team(row)


class OutcomeItem(Row, frozen=True, kw_only=True):
    """A customer outcome, how it is measured, and the teams aligned to it."""

    id: UUID
    statement: str
    measure: str
    target: str | None
    status: str
    team_ids: list[UUID]
    teams: list[str]
    defined_at: datetime
    retired_reason: str | None
    version: int
    position: int


_OUTCOMES = """
SELECT o.id, o.statement, o.measure, o.target, o.status, o.team_ids,
       ARRAY(SELECT t.slug FROM unnest(o.team_ids) WITH ORDINALITY AS u(id, n)
             JOIN read.teams t ON t.id = u.id ORDER BY u.n) AS teams,
       o.defined_at, o.retired_reason, o.version, o.position
FROM read.outcomes o
WHERE ($1::uuid IS NULL OR o.id = $1)
ORDER BY o.defined_at, o.id
"""


@reads("directory")
async def list_outcomes(conn: Connection) -> list[OutcomeItem]:
    """Every outcome, oldest defined first."""
    return [decode(r, OutcomeItem) for r in await conn.fetch(_OUTCOMES, None)]


@reads("directory")
async def get_outcome_item(conn: Connection, outcome_id: str | UUID) -> OutcomeItem | None:
    """One outcome by id; None when there is none (or the id is not a UUID)."""
    try:
        wanted = outcome_id if isinstance(outcome_id, UUID) else UUID(outcome_id)
    except ValueError:
        return None
    row = await conn.fetchrow(_OUTCOMES, wanted)
    return None if row is None else decode(row, OutcomeItem)
