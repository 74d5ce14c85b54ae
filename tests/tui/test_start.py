"""The app's start: the inbox's opening questions go to the server while the app is still
composing and laying out its first screen, and the inbox takes those answers."""

from __future__ import annotations

import httpx
from textual.message import Message

from tests.conftest import ADMIN_TOKEN
from tests.tui.conftest import Session, ready, seed
from tui.app import LooplineApp


class Noted(httpx.AsyncBaseTransport):
    """The real transport, noting each request as it goes out."""

    def __init__(self, said: list[str]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.said = said

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.said.append(f"asked {request.url.path}")
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

    app = LooplineApp(api_server, ADMIN_TOKEN, transport=Noted(said))
    async with app.run_test(size=(120, 40), message_hook=heard) as pilot:
        session = Session(app, pilot, keys, seen)
        await session.wait(lambda: ready(session))
    # The page went out as soon as the statuses came (not once the inbox had handled
    # them), and the inbox showed that answer rather than asking again.
    assert said.index("asked /api/feedback") < said.index("VocabularyLoaded"), said
    assert said.count("asked /api/feedback") == 1, said
