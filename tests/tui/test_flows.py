"""The main triage flows, driven through the real app against a real API server."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.tui.conftest import item, seed, today, until
from tui.app import LooplineApp
from tui.widgets.feedback_table import FeedbackTable


async def test_triage_moves_the_item_out_of_the_inbox(
    api_server: str, api: httpx.AsyncClient
) -> None:
    keys = await seed(api, 3)
    app = LooplineApp(api_server, ADMIN_TOKEN, today=today)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(FeedbackTable)
        await until(pilot, lambda: table.row_count == 3)
        # The newest item is on top; triage it into billing.
        assert table.current() is not None
        await pilot.press("t")
        await until(pilot, lambda: app.screen.__class__.__name__ == "PickPrompt")
        await pilot.press("enter")
        await until(pilot, lambda: table.row_count == 2)
    found = await item(api, keys[-1])
    assert found["status"] == "triaged"
