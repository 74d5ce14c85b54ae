"""The server goes away mid-session: the app says so and keeps working when it returns."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import httpx
import pytest

from infra.settings import load_settings
from tests.conftest import ADMIN_TOKEN
from tests.processes import free_port
from tests.tui.conftest import messages, seed, serve_on, tap, until
from tui.app import LooplineApp
from tui.client import ApiClient, Unreachable
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


class ClosingKeptAlive:
    """A server (or a proxy in front of one) whose idle timeout ends a kept-alive
    connection just as the client sends its next request: each connection answers one
    request, then closes on the next without a word."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = False
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                self.requests.append(head.split(b" ", 2)[0])
                if answered:
                    break
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
                writer.write(b"content-length: 2\r\n\r\n[]")
                await writer.drain()
                answered = True
        writer.close()


async def test_a_read_on_a_connection_the_server_closed_is_asked_again() -> None:
    closing = ClosingKeptAlive()
    server = await asyncio.start_server(closing.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = ApiClient(f"http://127.0.0.1:{port}", ADMIN_TOKEN)
    try:
        assert await client.teams() == []
        # The kept-alive connection is closed as it is reused: asked again on a new one,
        # the answer comes (no "no answer from …" for a list that was there).
        assert await client.teams() == []
        assert (closing.connections, closing.requests) == (2, [b"GET", b"GET", b"GET"])
        # A write is not sent twice (it may have been done): its error says so.
        with pytest.raises(Unreachable):
            await client.decline("FB-1", "not now")
        assert closing.requests.count(b"POST") == 1
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
