"""API tokens: an admin creates them (shown once), lists them (never the secret), revokes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody, PathParameter

from domain.errors import ValidationError
from infra import tokens
from infra.eventstore import PostgresEventStore
from infra.tokens import Role
from server.auth import ADMIN, TokenCache
from server.schemas import Schema

TokenId = Annotated[UUID, PathParameter(description="The token's id (not the token itself).")]


class TokenCreate(Schema):
    name: str
    role: Role
    teams: list[str] = msgspec.field(default_factory=list)


class Token(Schema):
    """A token as listed: who it is for, never the secret nor its hash."""

    id: UUID
    name: str
    role: Role
    team_ids: list[UUID]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(Schema):
    """The new token; `token` is shown this once and stored only as a digest."""

    id: UUID
    name: str
    role: Role
    team_ids: list[UUID]
    token: str


class TokenController(Controller):
    path = "/api/tokens"
    tags = ["tokens"]
    guards = [ADMIN]

    @post(
        operation_id="createToken",
        summary="Create an API token",
        description=(
            "Roles: admin (everything), product (manages teams, outcomes and decisions, reads "
            "all), member (acts on the feedback and deployments of its `teams`, by slug or id). "
            "The token is in this answer only. Admin only."
        ),
        status_code=201,
    )
    async def create(
        self,
        data: JSONBody[TokenCreate],
        pool: NamedDependency[asyncpg.Pool],
        store: NamedDependency[PostgresEventStore],
    ) -> TokenCreated:
        if not data.name.strip():
            raise ValidationError("name", "must not be empty")
        team_ids = await tokens.token_team_ids(store, data.role, data.teams)
        async with pool.acquire() as conn:
            token_id, token = await tokens.create_token(
                conn, name=data.name.strip(), role=data.role, team_ids=team_ids
            )
        return TokenCreated(
            id=token_id,
            name=data.name.strip(),
            role=data.role,
            team_ids=list(team_ids),
            token=token,
        )

    @get(
        operation_id="listTokens",
        summary="List API tokens",
        description="Every token, revoked ones too, without the secret. Admin only.",
    )
    async def list_tokens(self, pool: NamedDependency[asyncpg.Pool]) -> list[Token]:
        async with pool.acquire() as conn:
            infos = await tokens.list_tokens(conn)
        return [
            Token(
                id=i.id,
                name=i.name,
                role=i.role,
                team_ids=list(i.team_ids),
                created_at=i.created_at,
                revoked_at=i.revoked_at,
                last_used_at=i.last_used_at,
            )
            for i in infos
        ]

    @delete(
        "/{id:uuid}",
        operation_id="revokeToken",
        summary="Revoke an API token",
        description="Requests with it answer 401 from now on; 404 when no live token has the id.",
    )
    async def revoke(
        self,
        request: Request,  # type: ignore[type-arg]
        id: TokenId,
        pool: NamedDependency[asyncpg.Pool],
    ) -> None:
        async with pool.acquire() as conn:
            revoked = await tokens.revoke_token(conn, id)
        cache: TokenCache = request.app.state.token_cache
        cache.drop_all()
        if not revoked:
            raise NotFoundException(detail=f"no live token {id}")
