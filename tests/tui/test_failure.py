"""The server goes away mid-session: the app says so and keeps working when it returns."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx

from infra.settings import load_settings
from tests.conftest import ADMIN_TOKEN
from tests.processes import free_port
from tests.tui.conftest import messages, seed, serve_on, tap, until
from tui.app import LooplineApp
from tui.widgets.feedback_table import FeedbackTable


async def test_server_stopped_and_back(database_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        {}, database_url=database_url, data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN
    )
    port = free_port()
    with contextlib.ExitStack() as first:
        url = first.enter_context(serve_on(settings, database_url, port))
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as api:
            keys = await seed(api, 2)
        app = LooplineApp(url, ADMIN_TOKEN)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            table = app.screen.query_one(FeedbackTable)
            await until(pilot, lambda: table.row_count == 2 and app.sub_title == "live")

            # The server stops: the live link is lost, and a refresh fails with a notice.
            first.close()
            await until(pilot, lambda: app.sub_title.startswith("offline"))
            await tap(pilot, "r")
            await until(pilot, lambda: any("no answer" in m for m in messages(app)))
            assert table.row_count == 2  # what was loaded stays on screen

            # A triage while it is down fails with a notice; nothing changes on screen.
            await tap(pilot, "t")
            await until(pilot, lambda: type(app.screen).__name__ == "FormPrompt")
            await tap(pilot, "ctrl+s")
            await until(pilot, lambda: any(keys[1] in m for m in messages(app)))
            assert table.items[keys[1]].status == "new"

            # It comes back on the same address: live again, and triage works.
            with serve_on(settings, database_url, port):
                await until(pilot, lambda: app.sub_title == "live", seconds=20)
                await tap(pilot, "t")
                await until(pilot, lambda: type(app.screen).__name__ == "FormPrompt")
                await tap(pilot, "ctrl+s")
                await until(pilot, lambda: keys[1] not in table.items)
                async with httpx.AsyncClient(
                    base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                ) as api:
                    found = (await api.get(f"/api/feedback/{keys[1]}")).json()["item"]
                assert found["status"] == "triaged"
