"""Teams: form them, list them, and record their members and the repositories they ship."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from domain import services
from domain.team import TeamNotFound
from infra.eventstore import PostgresEventStore
from projections import directory
from server.auth import MANAGERS
from server.schemas import Schema, WriteResult, write_result

TeamRef = Annotated[str, PathParameter(description="The team's slug (e.g. `billing`) or id.")]
Handle = Annotated[str, PathParameter(description="The member's handle.")]


class TeamCreate(Schema):
    slug: str
    name: str


class MemberCreate(Schema):
    handle: str
    skills: list[str] = msgspec.field(default_factory=list)


class RepositoryCreate(Schema):
    repository: str


class TeamController(Controller):
    path = "/api/teams"
    tags = ["teams"]

    @post(
        operation_id="formTeam",
        summary="Form a team",
        description="A team with a unique slug (lowercase) and a display name. Product or admin.",
        status_code=201,
        guards=[MANAGERS],
    )
    async def form(
        self, data: JSONBody[TeamCreate], store: NamedDependency[PostgresEventStore]
    ) -> WriteResult:
        written = await services.form_team(store, slug=data.slug, name=data.name)
        return write_result(written)

    @get(
        operation_id="listTeams",
        summary="List teams",
        description="Every team by slug, with its members, repositories and outcomes.",
    )
    async def list_teams(
        self, pool: NamedDependency[asyncpg.Pool], caught_up: NamedDependency[int | None]
    ) -> list[directory.TeamItem]:
        async with pool.acquire() as conn:
            return await directory.list_teams(conn)

    @get(
        "/{team:str}",
        operation_id="getTeam",
        summary="One team",
        description="The team with its members (handle and skills) and repositories.",
    )
    async def get_team(
        self,
        team: TeamRef,
        pool: NamedDependency[asyncpg.Pool],
        caught_up: NamedDependency[int | None],
    ) -> directory.TeamItem:
        async with pool.acquire() as conn:
            item = await directory.get_team_item(conn, team)
        if item is None:
            raise TeamNotFound(f"no team {team!r}")
        return item

    @post(
        "/{team:str}/members",
        operation_id="addTeamMember",
        summary="Add a member",
        description="A person joins the team, described by handle and skills. Product or admin.",
        status_code=201,
        guards=[MANAGERS],
    )
    async def add_member(
        self,
        team: TeamRef,
        data: JSONBody[MemberCreate],
        store: NamedDependency[PostgresEventStore],
        expected_version: NamedDependency[int | None],
    ) -> WriteResult:
        written = await services.add_member(
            store,
            team,
            handle=data.handle,
            skills=data.skills,
            expected_version=expected_version,
        )
        return write_result(written)

    @delete(
        "/{team:str}/members/{handle:str}",
        operation_id="removeTeamMember",
        summary="Remove a member",
        description="The member leaves the team. Product or admin.",
        status_code=200,
        guards=[MANAGERS],
    )
    async def remove_member(
        self,
        team: TeamRef,
        handle: Handle,
        store: NamedDependency[PostgresEventStore],
        expected_version: NamedDependency[int | None],
    ) -> WriteResult:
        written = await services.remove_member(
            store, team, handle=handle, expected_version=expected_version
        )
        return write_result(written)

    @post(
        "/{team:str}/repositories",
        operation_id="addTeamRepository",
        summary="Own a repository or service",
        description=(
            "Deployments of this repository or service are attributed to the team; 409 when "
            "another team owns it. Owning it again changes nothing. Product or admin."
        ),
        status_code=201,
        guards=[MANAGERS],
    )
    async def own_repository(
        self,
        team: TeamRef,
        data: JSONBody[RepositoryCreate],
        store: NamedDependency[PostgresEventStore],
        expected_version: NamedDependency[int | None],
    ) -> WriteResult:
        written = await services.own_repository(
            store, team, repository=data.repository, expected_version=expected_version
        )
        return write_result(written)
