"""The app's start: the inbox's opening questions go to the server while the app is still
composing and laying out its first screen, and the inbox takes those answers."""

from __future__ import annotations

import asyncio

import httpx
from textual.message import Message

from tests.conftest import ADMIN_TOKEN
from tests.tui.conftest import Session, ready, seed
from tui.app import LooplineApp


class Noted(httpx.AsyncBaseTransport):
    """The real transport, noting each request as it goes out, and which coroutine's task
    asked it."""

    def __init__(self, said: list[str]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.said = said
        self.askers: dict[str, list[str]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.said.append(f"asked {request.url.path}")
        task = asyncio.current_task()
        asker = task.get_coro().__qualname__ if task is not None else "?"  # type: ignore[union-attr]
        self.askers.setdefault(request.url.path, []).append(asker)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_the_opening_page_is_asked_before_the_inbox_has_its_statuses(
    api_server: str, api: httpx.AsyncClient
) -> None:
    keys = await seed(api, 4)
    said: list[str] = []
    seen: list[Message] = []

    def heard(message: Message) -> None:
        seen.append(message)
        if type(message).__name__ in ("VocabularyLoaded", "PageLoaded"):
            said.append(type(message).__name__)

    noted = Noted(said)
    app = LooplineApp(api_server, ADMIN_TOKEN, transport=noted)
    async with app.run_test(size=(120, 40), message_hook=heard) as pilot:
        session = Session(app, pilot, keys, seen)
        await session.wait(lambda: ready(session))
    # The page was asked by the question the app put while starting, as soon as the
    # statuses came (not by the inbox once it had handled them: on a busy machine the
    # inbox may handle them before that task runs, so the order of the two is no proof),
    # and the inbox showed that answer rather than asking again.
    assert noted.askers["/api/feedback"] == ["InboxScreen.ask_ahead.<locals>.first_page"], said
    assert said.index("asked /api/feedback") < said.index("PageLoaded"), said
