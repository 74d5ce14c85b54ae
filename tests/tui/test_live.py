"""The live stream everywhere: what is shown follows other people's changes; a refused
token is said once and not retried; the detail's history reads as words."""

from __future__ import annotations

import httpx

from tests.tui.conftest import Session, messages, screen_name, screen_text, until
from tui.app import LooplineApp
from tui.screens.detail import DetailScreen
from tui.screens.shipped import ShippedScreen


async def test_shipped_follows_new_increments_without_a_refresh(
    session: Session, api: httpx.AsyncClient
) -> None:
    await session.press("s")
    await session.wait(lambda: screen_name(session.app) == "ShippedScreen")
    screen = session.app.screen
    assert isinstance(screen, ShippedScreen)
    response = await api.post(
        "/api/increments",
        json={"service": "acme/invoices", "environment": "production", "version": "v9.9.9"},
    )
    response.raise_for_status()
    table = screen.query_one("#increments")
    await session.wait(lambda: getattr(table, "row_count", 0) == 1)


async def test_detail_history_reads_as_words_not_python(
    session: Session, api: httpx.AsyncClient
) -> None:
    key = session.keys[3]
    await session.press("enter")
    await session.prompt("DetailScreen")
    screen = session.app.screen
    assert isinstance(screen, DetailScreen)
    await session.wait(lambda: screen.loaded)
    # Someone triages it meanwhile: the open detail follows, its history written as words.
    response = await api.post(
        f"/api/feedback/{key}/triage",
        json={"team": "billing", "tags": ["search", "export"], "impact": "high"},
    )
    response.raise_for_status()
    await session.wait(lambda: "search, export" in screen_text(session.app))
    assert "['search" not in screen_text(session.app)


async def test_a_refused_token_says_so_and_stops_retrying(api_server: str) -> None:
    app = LooplineApp(api_server, "not-a-token")
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await until(pilot, lambda: "refused this token" in app.sub_title)
        assert any("the server refused this token" in m for m in messages(app))
        # It stopped: no worker keeps knocking.
        await until(
            pilot, lambda: not any(w.name == "follow" and w.is_running for w in app.workers)
        )
