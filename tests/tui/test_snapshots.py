"""SVG snapshots of every screen at 80x24 and 120x40, on canned data with fixed times
(the screens print absolute UTC dates; nothing reads the clock), not live, cursor on a table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.tui.conftest import today, until
from tests.tui.fake_api import transport
from tui.app import LooplineApp
from tui.screens.detail import DetailScreen

SIZES = [(80, 24), (120, 40)]


def app() -> LooplineApp:
    return LooplineApp(
        "http://loopline.test", "token", today=today, live=False, transport=transport()
    )


def tables_filled(pilot: Pilot[None]) -> bool:
    tables = list(pilot.app.screen.query(DataTable))
    return bool(tables) and all(t.row_count > 0 for t in tables)


def detail_loaded(pilot: Pilot[None]) -> bool:
    screen = pilot.app.screen
    return isinstance(screen, DetailScreen) and screen.loaded


def visit(
    *keys: str, ready: Callable[[Pilot[None]], bool] = tables_filled
) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: tables_filled(pilot))
        if keys:
            await pilot.press(*keys)
            await until(pilot, lambda: ready(pilot))
        await pilot.pause(0.1)

    return run_before


SCREENS = {
    "inbox": visit(),
    "detail": visit("enter", ready=detail_loaded),
    "backlog": visit("b"),
    "shipped": visit("s"),
    "metrics": visit("m"),
    "teams": visit("o"),
}


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare: Callable[..., bool], screen: str, size: tuple[int, int]) -> None:
    assert snap_compare(app(), terminal_size=size, run_before=SCREENS[screen])
