"""The live stream everywhere: what is shown follows other people's changes; a refused
token is said once and not retried; the detail's history reads as words."""

from __future__ import annotations

import httpx
import pytest
from textual.message import Message
from textual.widgets import Select

from tests.conftest import ADMIN_TOKEN
from tests.tui.conftest import (
    Held,
    Session,
    messages,
    ready,
    screen_name,
    screen_text,
    seed,
    until,
)
from tui.app import LooplineApp
from tui.screens import inbox
from tui.screens.detail import DetailScreen
from tui.screens.inbox import PageLoaded
from tui.screens.shipped import ShippedScreen
from tui.widgets.status_line import StatusLine


async def test_shipped_follows_new_increments_without_a_refresh(
    session: Session, api: httpx.AsyncClient
) -> None:
    await session.press("s")
    await session.wait(lambda: screen_name(session.app) == "ShippedScreen")
    screen = session.app.screen
    assert isinstance(screen, ShippedScreen)
    response = await api.post(
        "/api/increments",
        json={"service": "acme/invoices", "environment": "production", "release_version": "v9.9.9"},
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


async def test_a_page_read_before_a_live_change_does_not_undo_it(
    api_server: str, api: httpx.AsyncClient
) -> None:
    keys = await seed(api, 4)
    transport = Held("/api/feedback")
    app = LooplineApp(api_server, ADMIN_TOKEN, transport=transport)
    seen: list[Message] = []
    async with app.run_test(size=(120, 40), notifications=True, message_hook=seen.append) as p:
        session = Session(app, p, keys, seen)
        await session.wait(lambda: ready(session))
        key = keys[3]
        # Show every status: the page this asks for is read now, then held on its way.
        transport.hold.set()
        app.screen.query_one("#status", Select).value = "any"
        await until(p, transport.held.is_set)
        # Meanwhile someone triages the item; the app hears it and shows it before the page
        # arrives.
        (await api.post(f"/api/feedback/{key}/triage", json={"team": "billing"})).raise_for_status()

        def shown_triaged() -> bool:
            row = session.table.items.get(key)
            return row is not None and (row.status, row.team) == ("triaged", "billing")

        await session.wait(shown_triaged)
        pages = sum(isinstance(m, PageLoaded) for m in seen)
        transport.release.set()
        await session.wait(lambda: sum(isinstance(m, PageLoaded) for m in seen) > pages)
        # The older page must not leave the item shown as it was before the triage.
        await session.wait(shown_triaged)


async def test_the_inbox_counts_every_match_and_keeps_the_count_right_live(
    api_server: str, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of three, so that five new items are more than the first page holds (and the
    # next page only when the cursor reaches the last row).
    monkeypatch.setattr(inbox, "PAGE", 3)
    monkeypatch.setattr(inbox, "LOOKAHEAD", 0)
    keys = await seed(api, 5)
    app = LooplineApp(api_server, ADMIN_TOKEN)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        line = app.screen.query_one(StatusLine)
        await until(pilot, lambda: app.sub_title == "live" and line.summary == "3 of 5 items")
        # Two more customers write in: they show at once, and the count follows.
        for n in range(2):
            response = await api.post(
                "/api/feedback", json={"text": f"Late ask {n}", "channel": "chat"}
            )
            response.raise_for_status()
        await until(pilot, lambda: line.summary == "5 of 7 items")
        # Someone triages the oldest item, which the inbox has not loaded: it is no longer
        # new, and the count says so although no row changed.
        await api.post(f"/api/feedback/{keys[0]}/triage", json={"team": "billing"})
        await until(pilot, lambda: line.summary == "5 of 6 items")
