"""`loopline token create|list|revoke`: API tokens, straight in the database like `migrate`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, NoReturn
from uuid import UUID

import typer

from domain import services
from domain.errors import DomainError
from infra import tokens
from infra.database import connect, create_pool, database_url
from infra.eventstore import PostgresEventStore
from infra.settings import Settings, load_settings
from infra.tokens import Role, TokenInfo
from migrations.runner import migrate

token_app = typer.Typer(
    name="token",
    help="Create, list and revoke API tokens (admin, product, member of teams).",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Directory of the embedded database (env LOOPLINE_DATA_DIR).", file_okay=True
    ),
]


ROLES: dict[str, Role] = {role: role for role in tokens.ROLES}


def fail(message: str) -> NoReturn:
    typer.echo(f"loopline: error: {message}", err=True)
    raise typer.Exit(1)


async def _migrated(settings: Settings, dsn: str) -> None:
    # The tokens table comes with the migrations; a fresh database gets them first.
    conn = await connect(settings, dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def _create(
    settings: Settings, dsn: str, name: str, role: Role, teams: list[str]
) -> tuple[UUID, str]:
    await _migrated(settings, dsn)
    pool = await create_pool(settings, dsn)
    try:
        store = PostgresEventStore.from_pool(pool, settings)
        team_ids = await tokens.token_team_ids(store, role, teams)
        async with pool.acquire() as conn:
            return await tokens.create_token(conn, name=name, role=role, team_ids=team_ids)
    finally:
        await pool.close()


async def _list(settings: Settings, dsn: str) -> tuple[list[TokenInfo], dict[UUID, str]]:
    await _migrated(settings, dsn)
    pool = await create_pool(settings, dsn)
    try:
        store = PostgresEventStore.from_pool(pool, settings)
        async with pool.acquire() as conn:
            infos = await tokens.list_tokens(conn)
        slugs: dict[UUID, str] = {}
        for team_id in {t for info in infos for t in info.team_ids}:
            try:
                slugs[team_id] = (await services.get_team(store, team_id)).slug
            except DomainError:
                slugs[team_id] = str(team_id)
        return infos, slugs
    finally:
        await pool.close()


async def _revoke(settings: Settings, dsn: str, token_id: UUID) -> bool:
    await _migrated(settings, dsn)
    conn = await connect(settings, dsn)
    try:
        return await tokens.revoke_token(conn, token_id)
    finally:
        await conn.close()


@token_app.command()
def create(
    name: Annotated[str, typer.Option(help="Who or what uses the token, e.g. ci-billing.")],
    role: Annotated[str, typer.Option(help="admin, product or member.")],
    team: Annotated[
        list[str] | None,
        typer.Option(help="A team (slug) a member token acts for; repeat for several."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a token; it is printed on stdout this once and stored only as a digest."""
    chosen = ROLES.get(role.strip().lower())
    if chosen is None:
        fail(f"--role must be one of {', '.join(tokens.ROLES)}")
    if not name.strip():
        fail("--name must not be empty")
    settings = load_settings(data_dir=data_dir)
    try:
        token_id, token = asyncio.run(
            _create(settings, database_url(settings), name.strip(), chosen, team or [])
        )
    except DomainError as error:
        fail(str(error))
    typer.echo(
        f"created {chosen} token {name.strip()!r} (id {token_id}); shown only once:", err=True
    )
    typer.echo(token)


@token_app.command(name="list")
def list_command(data_dir: DataDir = None) -> None:
    """List tokens (never the secret): id, name, role, teams, created, last used, revoked."""
    settings = load_settings(data_dir=data_dir)
    infos, slugs = asyncio.run(_list(settings, database_url(settings)))
    for info in infos:
        teams = ",".join(slugs[t] for t in info.team_ids) or "-"
        used = info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "never"
        state = (
            f"revoked {info.revoked_at.isoformat(timespec='seconds')}"
            if info.revoked_at
            else "live"
        )
        typer.echo(
            f"{info.id}  {info.name}  {info.role}  teams={teams}  "
            f"created={info.created_at.isoformat(timespec='seconds')}  used={used}  {state}"
        )


@token_app.command()
def revoke(
    token_id: Annotated[UUID, typer.Argument(help="The token's id (from `token list`).")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a token; requests with it answer 401 from then on."""
    settings = load_settings(data_dir=data_dir)
    try:
        revoked = asyncio.run(_revoke(settings, database_url(settings), token_id))
    except tokens.BootstrapTokenKept as kept:
        fail(str(kept))
    if not revoked:
        fail(f"no live token {token_id}")
    typer.echo(f"revoked {token_id}")
