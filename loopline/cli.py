"""The `loopline` command line: up, serve, migrate, and the operators' subcommands."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, NoReturn

import msgspec
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from infra import embedded, logs
from infra.database import DatabaseUnavailable, connect, create_pool, database_url
from infra.settings import Settings, SettingsError, load_settings
from loopline import exporting, importing, serving
from loopline.demo import DemoConflict
from loopline.demo.loading import load_demo_command
from loopline.instance import InstanceFileError, admin_token, write_instance
from loopline.integrations_cli import integration_app, webhooks_app
from loopline.report import report
from loopline.tokens_cli import token_app
from loopline.tui_cli import tui, web
from migrations.runner import Migration, MigrationError, migrate
from projections.catalog import all_projections
from projections.runner import ProjectionFailed
from projections.worker import UnknownProjection, build_runner, run_until_stopped, select
from projections.worker import rebuild as rebuild_projection

PROJECTIONS = [p.name for p in all_projections()]

app = typer.Typer(
    name="loopline",
    help="Loopline: customer feedback joined to what the teams ship.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"loopline {package_version('loopline')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print Loopline's version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Loopline: customer feedback joined to what the teams ship."""


app.add_typer(token_app)
app.add_typer(importing.app, name="import")
app.add_typer(exporting.app, name="export")
app.add_typer(integration_app, name="integration")
app.add_typer(webhooks_app, name="webhooks")
app.command(name="report")(report)

# Failures a user can fix; each is reported as one line, never a traceback.
EXPECTED_ERRORS = (
    DatabaseUnavailable,
    MigrationError,
    SettingsError,
    serving.PortUnavailable,
    serving.ServerFailed,
    InstanceFileError,
    UnknownProjection,
    ProjectionFailed,
    DemoConflict,
    *importing.EXPECTED_ERRORS,
    *exporting.EXPECTED_ERRORS,
)

Host = Annotated[
    str | None, typer.Option(help="Address to listen on (env LOOPLINE_HOST, default 127.0.0.1).")
]
Port = Annotated[
    int | None, typer.Option(help="Port to listen on (env LOOPLINE_PORT, default 8000).")
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Directory for the embedded database and token (env LOOPLINE_DATA_DIR).",
        file_okay=True,  # an unusable path gets our one-line error, not a usage error
    ),
]


def fail(message: str) -> NoReturn:
    typer.echo(f"loopline: error: {message}", err=True)
    raise typer.Exit(1)


def configure_logging(settings: Settings) -> None:
    logs.configure_logging(settings.log_level, settings.log_format)
    # The embedded server's wheel logs whole server logs at ERROR; we report one line and
    # name the log file.
    logging.getLogger(embedded.PACKAGE).setLevel(logging.CRITICAL)


async def _migrate(settings: Settings, dsn: str) -> list[Migration]:
    conn = await connect(settings, dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def apply_migrations(settings: Settings, dsn: str) -> None:
    applied = asyncio.run(_migrate(settings, dsn))
    for migration in applied:
        typer.echo(f"applied {migration.filename}")
    if not applied:
        typer.echo("migrations: up to date")


def serve_app(
    settings: Settings, dsn: str, sock: socket.socket, failure: list[str] | None = None
) -> None:
    """Serve until stopped; a message put in `failure` (then SIGTERM) ends it as an error."""
    from server.app import create_app  # importing Litestar is slow; only serving needs it

    try:
        serving.run(create_app(settings, dsn=dsn), sock, log_level=settings.log_level)
    except KeyboardInterrupt:
        if failure:
            fail(failure[0])
        # Ctrl-C or SIGTERM after a graceful shutdown: a normal, successful stop.
        typer.echo("loopline: stopped", err=True)


def supervise(settings: Settings, failure: list[str]) -> embedded.Supervisor | None:
    """Watch the embedded PostgreSQL while `up` serves; None when DATABASE_URL is used."""
    if settings.database_url:
        return None

    def failed(message: str) -> None:
        # uvicorn stops gracefully on SIGTERM; serve_app then reports the failure.
        failure.append(message)
        os.kill(os.getpid(), signal.SIGTERM)

    return embedded.Supervisor(
        settings.pgdata, failed, within=settings.embedded_restart_timeout
    ).start()


@app.command()
def up(
    host: Host = None,
    port: Port = None,
    data_dir: DataDir = None,
    demo: Annotated[bool, typer.Option(help="Load the demo organisation.")] = False,
) -> None:
    """Start everything on this machine: embedded PostgreSQL (or DATABASE_URL), migrations, API."""
    settings = load_settings(host=host, port=port, data_dir=data_dir)
    configure_logging(settings)
    sock = serving.listen(settings.host, settings.port)
    try:
        dsn = database_url(settings)
        apply_migrations(settings, dsn)
        if demo:
            load_demo_command(settings, dsn)
        url = serving.url(settings.host, settings.port)
        token = admin_token(settings)
        settings = msgspec.structs.replace(settings, admin_token=token.value)
        write_instance(settings, url)
        typer.echo(f"Loopline is running at {url}")
        # Printed once, when made: every later start's output lands in logs that outlive it.
        if token.generated:
            typer.echo(f"admin token: {token.value} (kept in {token.kept_in})")
        else:
            typer.echo(f"admin token: in {token.kept_in}")
        failure: list[str] = []
        supervisor = supervise(settings, failure)
        try:
            serve_app(settings, dsn, sock, failure)
        finally:
            if supervisor is not None:
                supervisor.stop()
    finally:
        sock.close()


@app.command()
def serve(host: Host = None, port: Port = None) -> None:
    """Serve the API against the PostgreSQL server in DATABASE_URL (migrates at start)."""
    settings = load_settings(host=host, port=port)
    configure_logging(settings)
    if not settings.database_url:
        fail("serve needs DATABASE_URL; use `loopline up` for the embedded database")
    sock = serving.listen(settings.host, settings.port)
    try:
        apply_migrations(settings, settings.database_url)
        typer.echo(f"Loopline is serving at {serving.url(settings.host, settings.port)}")
        serve_app(settings, settings.database_url, sock)
    finally:
        sock.close()


@app.command(name="migrate")
def migrate_command(data_dir: DataDir = None) -> None:
    """Apply pending migrations to DATABASE_URL or the embedded database."""
    settings = load_settings(data_dir=data_dir)
    configure_logging(settings)
    apply_migrations(settings, database_url(settings))


Names = Annotated[
    list[str] | None,
    typer.Argument(help="Projections to run (default: all). Known: " + ", ".join(PROJECTIONS)),
]


@app.command()
def project(names: Names = None, data_dir: DataDir = None) -> None:
    """Run projection workers until stopped; several workers share the projections safely."""
    settings = load_settings(data_dir=data_dir)
    configure_logging(settings)
    selected = select(names)
    dsn = database_url(settings)
    apply_migrations(settings, dsn)
    typer.echo(f"projecting {', '.join(p.name for p in selected)} (Ctrl-C stops)")
    asyncio.run(_project(settings, dsn, [p.name for p in selected]))


async def _project(settings: Settings, dsn: str, names: list[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    pool = await create_pool(settings, dsn)
    try:
        runner = build_runner(settings, dsn, pool, select(names))
        await run_until_stopped(runner, names, stop=stop)
    finally:
        await pool.close()


@app.command()
def work(data_dir: DataDir = None) -> None:
    """Run the webhook workers (mapping, notifications) until stopped; several `work` and API
    processes share one database safely (set LOOPLINE_RUN_WEBHOOK_WORKERS=false on the API)."""
    settings = load_settings(data_dir=data_dir)
    configure_logging(settings)
    dsn = database_url(settings)
    apply_migrations(settings, dsn)
    asyncio.run(_work(settings, dsn))


async def _work(settings: Settings, dsn: str) -> None:
    from server.webhooks.lifespan import WebhookWorkers  # Litestar loads only when needed

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    workers = await WebhookWorkers.open(settings, dsn)
    typer.echo("working: webhook mapping and notifications (Ctrl-C stops)")
    await workers.run_until(stop)


@app.command()
def rebuild(
    names: Names = None,
    all_: Annotated[bool, typer.Option("--all", help="Rebuild every projection.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Replay the event store into new read-model tables, then switch to them."""
    if not names and not all_:
        fail("name a projection to rebuild, or pass --all")
    settings = load_settings(data_dir=data_dir)
    configure_logging(settings)
    selected = select(None if all_ else names)
    dsn = database_url(settings)
    apply_migrations(settings, dsn)
    asyncio.run(_rebuild(settings, dsn, [p.name for p in selected]))


async def _rebuild(settings: Settings, dsn: str, names: list[str]) -> None:
    pool = await create_pool(settings, dsn)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:,.0f} events/s"),
            TimeRemainingColumn(),
        ) as progress:
            label = ", ".join(names) if len(names) <= 2 else f"{len(names)} projections"
            task = progress.add_task(label, total=None, rate=0.0)
            began = time.monotonic()

            def report(position: int, head: int) -> None:
                elapsed = time.monotonic() - began
                rate = position / elapsed if elapsed > 0 else 0.0
                progress.update(task, completed=position, total=head, rate=rate)

            # Together: one read of the events for all of them.
            await rebuild_projection(settings, dsn, pool, names, progress=report)
            progress.update(task, completed=progress.tasks[task].total or 0)
    finally:
        await pool.close()


app.command()(tui)
app.command()(web)


@app.command(hidden=True)
def version() -> None:
    """Print Loopline's version (kept for scripts; `loopline --version` is the convention)."""
    typer.echo(f"loopline {package_version('loopline')}")


def main() -> None:
    """Console-script entry point: expected failures become one line on stderr and exit 1."""
    try:
        app()
    except EXPECTED_ERRORS as error:
        typer.echo(f"loopline: error: {error}", err=True)
        sys.exit(1)
