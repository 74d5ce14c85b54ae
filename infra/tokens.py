"""API tokens: created once and shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

import asyncpg
import msgspec

from domain import access, services
from domain.errors import DomainError, ValidationError
from domain.ports import EventStore
from infra.database import Connection

Role = Literal["admin", "product", "member"]
ROLES: tuple[Role, ...] = ("admin", "product", "member")
PREFIX = "ll_"
BOOTSTRAP = "bootstrap-admin"


class Principal(msgspec.Struct, frozen=True):
    """Who a request acts for: a token's id, name, role and (for members) teams."""

    token_id: UUID
    name: str
    role: Role
    team_ids: frozenset[UUID] = frozenset()

    @property
    def actor(self) -> access.Actor:
        """Who the domain sees acting: the token's role, teams and name."""
        return access.Actor(role=access.Role(self.role), team_ids=self.team_ids, name=self.name)


class TokenInfo(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    role: Role
    team_ids: tuple[UUID, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


async def create_token(
    conn: Connection, *, name: str, role: Role, team_ids: tuple[UUID, ...] = ()
) -> tuple[UUID, str]:
    """A new token: (its id, the token itself — shown this once, never stored).

    The bootstrap admin's name is reserved: `ensure_bootstrap` owns that row, and a unique
    index keeps it single.
    """
    if name.strip().lower() == BOOTSTRAP:
        raise ValidationError("name", f"{BOOTSTRAP!r} is reserved for the bootstrap admin token")
    token = new_token()
    token_id = uuid4()
    await conn.execute(
        "INSERT INTO api_tokens (id, name, role, team_ids, token_hash) VALUES ($1, $2, $3, $4, $5)",
        token_id,
        name,
        role,
        list(team_ids),
        digest(token),
    )
    return token_id, token


REVOKED_CHANNEL = "loopline_tokens"
"""NOTIFY channel: the id of a token that stopped being valid (revoked or replaced), so
servers that keep live tokens in memory drop them at once."""


async def ensure_bootstrap(conn: Connection, token: str) -> None:
    """Make `token` the bootstrap admin token (replacing an earlier one)."""
    await conn.execute(
        "WITH t AS (INSERT INTO api_tokens (id, name, role, token_hash) "
        "VALUES ($1, $2, 'admin', $3) "
        "ON CONFLICT (name) WHERE name = 'bootstrap-admin' "
        "DO UPDATE SET token_hash = EXCLUDED.token_hash, revoked_at = NULL RETURNING id) "
        f"SELECT pg_notify('{REVOKED_CHANNEL}', id::text) FROM t",
        uuid4(),
        BOOTSTRAP,
        digest(token),
    )


async def authenticate(conn: Connection, token: str) -> Principal | None:
    """The principal of a live token; None for an unknown or revoked one.

    One indexed read per request; the token's last use is written at most once a minute,
    and only best effort: a read-only database still authenticates.
    """
    row = await conn.fetchrow(
        "SELECT id, name, role, team_ids, "
        "last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale "
        "FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        digest(token),
    )
    if row is None:
        return None
    if row["stale"]:
        with contextlib.suppress(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute(
                "UPDATE api_tokens SET last_used_at = now() WHERE id = $1", row["id"]
            )
    return Principal(
        token_id=row["id"],
        name=row["name"],
        role=row["role"],
        team_ids=frozenset(row["team_ids"]),
    )


async def list_tokens(conn: Connection) -> list[TokenInfo]:
    rows = await conn.fetch(
        "SELECT id, name, role, team_ids, created_at, revoked_at, last_used_at "
        "FROM api_tokens ORDER BY created_at"
    )
    return [
        TokenInfo(
            id=r["id"],
            name=r["name"],
            role=r["role"],
            team_ids=tuple(r["team_ids"]),
            created_at=r["created_at"],
            revoked_at=r["revoked_at"],
            last_used_at=r["last_used_at"],
        )
        for r in rows
    ]


class BootstrapTokenKept(DomainError):
    """Raised when the bootstrap admin token is to be revoked: the server's configuration
    keeps it (each start makes it live again), so it is changed there, not revoked."""


async def revoke_token(conn: Connection, token_id: UUID) -> bool:
    """Revoke a token; False when there is no live token with that id."""
    revoked = await conn.fetch(
        "WITH t AS (UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"
        f" AND name <> '{BOOTSTRAP}' RETURNING id)"
        f" SELECT pg_notify('{REVOKED_CHANNEL}', id::text) FROM t",
        token_id,
    )
    if not revoked:
        name = await conn.fetchval("SELECT name FROM api_tokens WHERE id = $1", token_id)
        if name == BOOTSTRAP:
            raise BootstrapTokenKept(
                "the bootstrap admin token is kept by the server's configuration "
                "(LOOPLINE_ADMIN_TOKEN or the admin-token file) and comes back at every start: "
                "change it there instead of revoking it"
            )
    return len(revoked) == 1


async def token_team_ids(store: EventStore, role: Role, teams: Sequence[str]) -> tuple[UUID, ...]:
    """The ids of the teams (slugs or ids) a token acts for; only member tokens name teams,
    and they need at least one. Raises `TeamNotFound` or `ValidationError` (field `teams`)."""
    if role == "member" and not teams:
        raise ValidationError("teams", "a member token needs the teams it acts for")
    if role != "member" and teams:
        raise ValidationError("teams", f"only member tokens are limited to teams, not {role}")
    ids = [(await services.get_team(store, team)).id for team in teams]
    return tuple(dict.fromkeys(ids))
