"""The command palette's jumps: any feedback item or decision, by its key or its words (the
API answers). The screen's actions come from the bindings (`LooplineApp.get_system_commands`)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from functools import partial

from textual.command import Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from tui.client import ApiClient, ApiError, Decision
from tui.formatting import clip
from tui.screens.detail import DetailScreen

# A human key such as FB-1042 or DEC-87 (the server chooses the prefixes).
KEY = re.compile(r"^[A-Za-z]+-\d+$")
# Full-text hits the fuzzy matcher cannot see in the shown text (stemmed words) still rank,
# below any that it can.
SEARCHED = 0.2
RESULTS = 10
# Longer than the palette waits between looks at its queue (0.1 s).
DRAIN = 0.15


def highlighted(matcher: Matcher, text: str) -> Content:
    """`matcher.highlight` for text that is not markup (that one parses it: a title such as
    "Dark mode [beta]" would lose its brackets)."""
    content = Content(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if score:
        for offset in offsets:
            if not text[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class LooplineCommands(Provider):
    async def startup(self) -> None:
        # The open decisions (the backlog's) once per palette: few, matched as typed.
        self.decisions: list[Decision] = []
        try:
            self.decisions = await self.client.decisions()
        except ApiError:
            self.decisions = []

    @property
    def client(self) -> ApiClient:
        client = getattr(self.app, "client", None)
        assert isinstance(client, ApiClient)
        return client

    async def search(self, query: str) -> Hits:
        for hit in [hit async for hit in self._search(query)]:
            yield hit
            await asyncio.sleep(0)
        # Textual's palette stops reading a provider's hits once every provider is done, so
        # hits still queued then are lost (often, on a busy machine): stay for a moment
        # while it takes them.
        await asyncio.sleep(DRAIN)

    async def _search(self, query: str) -> Hits:
        query = query.strip()
        if len(query) < 2:
            return
        matcher = self.matcher(query)
        open_keys = {d.key for d in self.decisions}
        for decision in self.decisions:
            title = f"{decision.key}  {clip(decision.title, 60)}"
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    highlighted(matcher, title),
                    self.show_decision(decision.key),
                    text=title,
                    help=f"decision · {decision.status} · {decision.team or 'no team'}",
                )
        if KEY.match(query):
            key = query.upper()
            if key not in open_keys:
                try:
                    closed = await self.client.decision(key)
                except ApiError:
                    pass
                else:
                    title = f"{closed.key}  {clip(closed.title, 60)}"
                    said = f"{closed.key} is {closed.status} (the backlog shows open ones)"
                    yield Hit(
                        1.0,
                        Content(title),  # (a str would be read as markup)
                        partial(self.app.notify, f"{said}: {closed.title}", markup=False),
                        text=title,
                        help=f"decision · {closed.status}",
                    )
        try:
            page = await self.client.feedback(q=query, limit=RESULTS)
        except ApiError:
            return
        for item in page.items:
            title = f"{item.key}  {clip(item.text, 60)}"
            score = 1.0 if item.key.upper() == query.upper() else matcher.match(title)
            yield Hit(
                max(score, SEARCHED),
                highlighted(matcher, title),
                self.open_item(item.key, str(item.id)),
                text=title,
                help=f"feedback · {item.status} · {item.team or 'no team'}",
            )

    def open_item(self, key: str, ref: str) -> Callable[[], object]:
        def open_it() -> None:
            self.app.push_screen(DetailScreen(self.client, key, ref))

        return open_it

    def show_decision(self, key: str) -> Callable[[], object]:
        return partial(self.app.run_action, f"show_decision({key!r})")
