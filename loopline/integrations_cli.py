"""`loopline integration add|list|remove` and `loopline webhooks list|replay`, on the database."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar
from uuid import UUID

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from domain.increment import PRODUCTION_ENVIRONMENTS
from infra.database import connect, create_pool, database_url
from infra.eventstore import PostgresEventStore
from infra.settings import Settings, load_settings
from loopline.tokens_cli import DataDir
from server.webhooks import inbox
from server.webhooks.errors import WebhookError
from server.webhooks.integrations import (
    DEFAULT_INCIDENT_LABEL,
    SOURCES,
    add_integration,
    list_integrations,
    remove_integration,
)
from server.webhooks.worker import MappingWorker

T = TypeVar("T")

integration_app = typer.Typer(
    help="Integrations: the secrets that verify webhook deliveries, per source and repository.",
    no_args_is_help=True,
)
webhooks_app = typer.Typer(
    help="Stored webhook deliveries: list them, map them again.", no_args_is_help=True
)


def _connected(work: Callable[[asyncpg.Connection], Awaitable[T]], data_dir: Path | None) -> T:
    settings = load_settings(data_dir=data_dir)
    dsn = database_url(settings)

    async def run() -> T:
        conn = await connect(settings, dsn)
        try:
            return await work(conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except WebhookError as error:
        typer.echo(f"loopline: error: {error}", err=True)
        raise typer.Exit(1) from None


@integration_app.command("add")
def add(
    source: Annotated[str, typer.Option(help=f"One of {', '.join(SOURCES)}.")],
    repository: Annotated[
        list[str], typer.Option("--repository", "-r", help="A repository or service (repeat).")
    ],
    name: Annotated[str | None, typer.Option(help="A name for people.")] = None,
    production_environment: Annotated[
        list[str] | None,
        typer.Option(
            help="Environments that count as production (repeat; default production, prod)."
        ),
    ] = None,
    deployment_workflow: Annotated[
        list[str] | None,
        typer.Option(help="Workflows/pipelines whose successful runs are deployments (repeat)."),
    ] = None,
    releases_are_deployments: Annotated[
        bool, typer.Option(help="Count published releases as deployments.")
    ] = False,
    incident_label: Annotated[
        str, typer.Option(help="Issues with this label are incidents.")
    ] = DEFAULT_INCIDENT_LABEL,
    secret_stdin: Annotated[
        bool, typer.Option(help="Read the secret from standard input instead of a prompt.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Add an integration; the secret is asked for (never taken as an argument, never shown)."""
    if secret_stdin:
        secret = sys.stdin.readline().strip()
    else:
        secret = typer.prompt("Secret", hide_input=True, confirmation_prompt=True)

    async def work(conn: asyncpg.Connection) -> None:
        integration = await add_integration(
            conn,
            source=source,
            secret=secret,
            repositories=repository,
            name=name,
            production_environments=production_environment or PRODUCTION_ENVIRONMENTS,
            deployment_workflows=deployment_workflow or (),
            releases_are_deployments=releases_are_deployments,
            incident_label=incident_label,
        )
        typer.echo(f"added {integration.source} integration {integration.id}")

    _connected(work, data_dir)


@integration_app.command("list")
def list_command(data_dir: DataDir = None) -> None:
    """List integrations (never their secrets)."""
    integrations = _connected(list_integrations, data_dir)
    table = Table("id", "source", "repositories", "production", "deployments", "incident label")
    for i in integrations:
        deployments = [
            *i.deployment_workflows,
            *(["releases"] if i.releases_are_deployments else []),
        ]
        table.add_row(
            str(i.id),
            i.source,
            ", ".join(i.repositories),
            ", ".join(i.production_environments),
            ", ".join(deployments) or "-",
            i.incident_label,
        )
    Console(width=200).print(table)


@integration_app.command("remove")
def remove(
    integration_id: Annotated[UUID, typer.Argument(help="The integration's id.")],
    data_dir: DataDir = None,
) -> None:
    """Remove an integration: its repositories' deliveries are refused from now on."""

    async def work(conn: asyncpg.Connection) -> None:
        await remove_integration(conn, integration_id)

    _connected(work, data_dir)
    typer.echo(f"removed integration {integration_id}")


State = Annotated[
    list[str] | None, typer.Option("--state", help=f"One of {', '.join(inbox.STATES)} (repeat).")
]


@webhooks_app.command("list")
def list_deliveries(
    state: State = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    data_dir: DataDir = None,
) -> None:
    """List stored deliveries (e.g. --state failed) with why they were ignored or failed."""

    async def work(conn: asyncpg.Connection) -> list[inbox.Delivery]:
        found: list[inbox.Delivery] = []
        wanted_states: list[str | None] = list(state) if state else [None]
        for wanted in wanted_states:
            found += await inbox.list_deliveries(conn, state=wanted, limit=limit)
        return sorted(found, key=lambda d: -d.id)[:limit]

    table = Table("id", "received", "source", "event", "repository", "state", "attempts", "why")
    for d in _connected(work, data_dir):
        table.add_row(
            str(d.id),
            d.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.source,
            d.event,
            d.repository or "-",
            d.state,
            str(d.attempts),
            d.reason or "",
        )
    Console(width=200).print(table)


@webhooks_app.command("replay")
def replay(
    state: State = None,
    delivery: Annotated[
        list[int] | None, typer.Option("--id", help="A stored delivery's id (repeat).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Map stored deliveries again (by id or state), here and now; a running server would too.

    Prints what was requeued and how each stands afterwards: mapped, ignored (and why),
    still failing (and why) or still pending (a retry is scheduled)."""
    if not state and not delivery:
        typer.echo("loopline: error: name deliveries: --id N or --state failed", err=True)
        raise typer.Exit(1)
    settings = load_settings(data_dir=data_dir)
    dsn = database_url(settings)
    outcome = asyncio.run(_replay(settings, dsn, delivery or [], state or []))
    for line in replay_report(outcome):
        typer.echo(line)


def replay_report(deliveries: list[inbox.Delivery]) -> list[str]:
    """What a replay did, delivery by delivery, with a count per resulting state."""
    if not deliveries:
        return ["requeued 0 deliveries: none matched"]
    ids = ", ".join(str(d.id) for d in deliveries)
    by_state = {state: [d for d in deliveries if d.state == state] for state in inbox.STATES}
    summary = ", ".join(f"{state} {len(found)}" for state, found in by_state.items())
    lines = [f"requeued {len(deliveries)} deliveries ({ids})", f"now: {summary}"]
    for d in deliveries:
        if d.state != inbox.MAPPED:
            why = f": {d.reason}" if d.reason else ""
            lines.append(f"  {d.id} {d.source} {d.event} {d.state}{why}")
    return lines


async def _replay(
    settings: Settings, dsn: str, ids: list[int], states: list[str]
) -> list[inbox.Delivery]:
    pool = await create_pool(settings, dsn)
    try:
        async with pool.acquire() as conn:
            requeued = await inbox.requeue_ids(conn, ids=ids, states=states)
        worker = MappingWorker(pool, PostgresEventStore.from_pool(pool, settings), settings)
        # Mapping no delay: the operator asked for it now.
        await worker.drain(limit=len(requeued))
        async with pool.acquire() as conn:
            found = [await inbox.get_delivery(conn, id) for id in requeued]
        return [d for d in found if d is not None]
    finally:
        await pool.close()
