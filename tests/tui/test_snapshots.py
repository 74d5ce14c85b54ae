"""SVG snapshots of every screen at 80x24, 120x40 and 200x60: the real app against the real API
server on a fresh database holding a fixed world (tests/tui/world.py, written through the
domain's services with fixed times), projections caught up before the server starts, the
app's clock frozen, not live (the live stream's connecting/live subtitle would race the
snapshot), cursor on a table.

One database and one server serve all twelve snapshots: nothing here writes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import zlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable
from textual.widgets._footer import FooterKey
from textual.worker import WorkerState

from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.settings import Settings, load_settings
from projections.catalog import all_projections
from projections.runner import ProjectionRunner
from tests.conftest import ADMIN_TOKEN, TEMPLATE, _with_database
from tests.processes import LOOPLINE, free_port, loopline_env, wait_healthy
from tests.tui import world
from tests.tui.conftest import tap, until
from tui.app import LooplineApp
from tui.screens.detail import DetailScreen
from tui.screens.help import HelpScreen
from tui.screens.nps import NpsScreen
from tui.widgets.fit_table import FitTable

SIZES = [(80, 24), (120, 40), (200, 60)]


def frozen() -> datetime:
    return world.NOW


async def _seed(settings: Settings, dsn: str) -> None:
    pool = await create_pool(settings, dsn)
    try:
        store = PostgresEventStore.from_pool(pool, settings)
        await world.build(store)
        runner = ProjectionRunner(
            dsn,
            store.recorder,
            store.mapper,
            all_projections(),
            batch_size=500,
            poll_interval=0.05,
            lease_retry=0.05,
        )
        await runner.catch_up()
    finally:
        await pool.close()


async def _admin(server_dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def world_api(
    server_dsn: str, template_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of the real API on a fresh database (cloned from the migrated template that
    `template_dsn` builds) holding `world`, its read models caught up."""
    name = f"loopline_tui_world_{os.getpid()}"
    asyncio.run(_admin(server_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    asyncio.run(_admin(server_dsn, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    dsn = _with_database(server_dsn, name)
    settings = load_settings(
        {},
        database_url=dsn,
        data_dir=tmp_path_factory.mktemp("tui-world") / "data",
        admin_token=ADMIN_TOKEN,
    )
    try:
        asyncio.run(_seed(settings, dsn))
        # The server runs in its own process: `snap_compare` waits for this process to go
        # CPU-idle several times per snapshot, which a server thread here would delay.
        # Its output goes to a file (a pipe nobody reads would fill up and stall it).
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = loopline_env(DATABASE_URL=dsn, LOOPLINE_ADMIN_TOKEN=ADMIN_TOKEN)
        log = settings.data_dir.parent / "server.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [LOOPLINE, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        try:
            try:
                wait_healthy(url, server)
            except AssertionError as error:
                raise AssertionError(f"{error}\n{log.read_text()}") from None
            yield url
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.communicate()
    finally:
        asyncio.run(_admin(server_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(autouse=True)
def ids_from_what_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name an SVG's CSS classes after what it shows.

    Rich names them `terminal-<hash of the rendered segments>`, and how Textual splits a
    screen into segments (not what they show) varies with when its refreshes land, so two
    identical pictures could differ in that hash alone; hashing the picture instead keeps
    any visible difference a failure and no invisible one.
    """
    export_svg = Console.export_svg

    def stable(self: Console, *, unique_id: str | None = None, **options: Any) -> str:
        svg = export_svg(self, unique_id=_PLACEHOLDER, **options)
        return svg.replace(_PLACEHOLDER, f"terminal-{zlib.adler32(svg.encode())}")

    monkeypatch.setattr(Console, "export_svg", stable)


_PLACEHOLDER = "terminal-picture"


def tables_filled(pilot: Pilot[None]) -> bool:
    tables = list(pilot.app.screen.query(DataTable))
    return bool(tables) and all(t.row_count > 0 for t in tables)


def detail_loaded(pilot: Pilot[None]) -> bool:
    screen = pilot.app.screen
    return isinstance(screen, DetailScreen) and screen.loaded


def nps_loaded(pilot: Pilot[None]) -> bool:
    screen = pilot.app.screen
    return isinstance(screen, NpsScreen) and screen.loaded


def footer_filled(pilot: Pilot[None]) -> bool:
    """The footer shows the screen's keys, laid out (it fills in after the screen settles;
    a key mounted but not yet placed has an empty region and is not painted)."""
    keys = list(pilot.app.screen.query(FooterKey))
    return bool(keys) and all(key.region.width > 0 for key in keys)


def settled(pilot: Pilot[None]) -> bool:
    """No worker is still loading (the inbox's teams arrive after its first page, and the
    footer is rebuilt when they land)."""
    return not any(
        worker.state in (WorkerState.PENDING, WorkerState.RUNNING) for worker in pilot.app.workers
    )


def tables_fitted(pilot: Pilot[None]) -> bool:
    """Every table laid out, each column at its final width for the table's size."""
    return all(table.fitted() for table in pilot.app.screen.query(FitTable))


def painted(pilot: Pilot[None]) -> bool:
    return settled(pilot) and footer_filled(pilot) and tables_fitted(pilot)


def visit(
    *keys: str, ready: Callable[[Pilot[None]], bool] = tables_filled
) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: tables_filled(pilot))
        if keys:
            await tap(pilot, *keys)
            await until(pilot, lambda: ready(pilot))
        # Data loaded, laid out and fitted; then one more round for every widget to
        # handle what that layout posted (resizes), and the condition must still hold.
        await until(pilot, lambda: painted(pilot))
        await pilot.pause()
        await until(pilot, lambda: painted(pilot))

    return run_before


SCREENS = {
    "inbox": visit(),
    "detail": visit("enter", ready=detail_loaded),
    "backlog": visit("b"),
    "shipped": visit("s"),
    "metrics": visit("m"),
    "teams": visit("o"),
    "nps": visit("n", ready=lambda pilot: nps_loaded(pilot) and tables_filled(pilot)),
    "outcomes": visit("O"),
}


CASES = [
    pytest.param(screen, size, id=f"{screen}-{size[0]}x{size[1]}")
    for screen in SCREENS
    for size in SIZES
]


@pytest.mark.parametrize(("screen", "size"), CASES)
def test_screen(
    snap_compare: Callable[..., bool], world_api: str, screen: str, size: tuple[int, int]
) -> None:
    app = LooplineApp(world_api, ADMIN_TOKEN, clock=frozen, live=False)
    assert snap_compare(app, terminal_size=size, run_before=SCREENS[screen])


async def help_shown(pilot: Pilot[None]) -> None:
    await visit()(pilot)
    await tap(pilot, "question_mark")
    await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
    # Laid out: the list of keys has its size (a modal paints after it is pushed).
    await until(pilot, lambda: pilot.app.screen.query_one("#help-keys").region.height > 0)
    await pilot.pause()
    await until(pilot, lambda: settled(pilot))


def test_help(snap_compare: Callable[..., bool], world_api: str) -> None:
    """`?` on the inbox: its actions in words, grouped (docs/screens/help.svg is a copy)."""
    app = LooplineApp(world_api, ADMIN_TOKEN, clock=frozen, live=False)
    assert snap_compare(app, terminal_size=(120, 40), run_before=help_shown)


SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_snapshots"
PICTURES = Path(__file__).parents[2] / "docs" / "screens"


@pytest.mark.parametrize(
    "picture", sorted(p.name for p in PICTURES.glob("*.svg")), ids=lambda name: name
)
def test_docs_show_the_snapshots(picture: str) -> None:
    """docs/tui.md's pictures are copies of these snapshots: after `--snapshot-update`,
    copy them again (`cp '…/test_screen[inbox-120x40].raw' docs/screens/inbox.svg`)."""
    name = picture.removesuffix(".svg")
    source = SNAPSHOTS / ("test_help.raw" if name == "help" else f"test_screen[{name}-120x40].raw")
    assert (PICTURES / picture).read_bytes() == source.read_bytes(), (
        f"docs/screens/{picture} is not {source.name}: copy it again"
    )
