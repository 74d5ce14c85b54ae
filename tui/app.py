"""The Loopline terminal UI: a thin App that wires screens, keys and the live stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import httpx
from rich.markup import escape
from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from tui.ahead import Ahead
from tui.client import ApiClient, ApiError, Refused, decode_change
from tui.commands import LooplineCommands
from tui.keys import Section, actions, bind
from tui.messages import LiveChange, LiveState
from tui.screens.backlog import BacklogScreen
from tui.screens.help import HelpScreen
from tui.screens.inbox import InboxScreen
from tui.screens.metrics import MetricsScreen
from tui.screens.nps import NpsScreen
from tui.screens.outcomes import OutcomesScreen
from tui.screens.shipped import ShippedScreen
from tui.screens.teams import TeamsScreen

RETRY = (0.5, 1.0, 2.0, 5.0)


def _now() -> datetime:
    return datetime.now(UTC)


class LooplineApp(App[None]):
    TITLE = "Loopline"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {LooplineCommands}
    BINDINGS = [
        bind("q", "quit", "Quit", "Leave Loopline", id="app.quit", section=Section.ANYWHERE),
        bind(
            "question_mark",
            "help",
            "Help",
            "Show this screen's keys",
            key_display="?",
            id="app.help",
            section=Section.ANYWHERE,
        ),
        bind(
            "i",
            "switch_mode('inbox')",
            "Inbox",
            "Go to the inbox: triage feedback",
            show=False,
            id="app.inbox",
            section=Section.GO,
        ),
        bind(
            "b",
            "switch_mode('backlog')",
            "Backlog",
            "Go to the backlog: ranked decisions with their demand",
            show=False,
            id="app.backlog",
            section=Section.GO,
        ),
        bind(
            "s",
            "switch_mode('shipped')",
            "Shipped",
            "Go to what shipped: increments and incidents",
            show=False,
            id="app.shipped",
            section=Section.GO,
        ),
        bind(
            "m",
            "switch_mode('metrics')",
            "Metrics",
            "Go to the metrics: lead times and DORA",
            show=False,
            id="app.metrics",
            section=Section.GO,
        ),
        bind(
            "n",
            "switch_mode('nps')",
            "NPS",
            "Go to NPS: its trend, the why, and detractors owed a follow-up",
            show=False,
            id="app.nps",
            section=Section.GO,
        ),
        bind(
            "O",
            "switch_mode('outcomes')",
            "Outcomes",
            "Go to the outcomes: each one's scorecard",
            show=False,
            id="app.outcomes",
            section=Section.GO,
        ),
        bind(
            "o",
            "switch_mode('teams')",
            "Teams",
            "Go to teams and outcomes",
            show=False,
            id="app.teams",
            section=Section.GO,
        ),
    ]

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        clock: Callable[[], datetime] = _now,
        live: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        keymap: Mapping[str, str] | None = None,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        # From the config file (tui/config.py checked both): keys by binding id, a theme.
        self.set_keymap(keymap or {})
        self.chosen_theme = theme
        self.client = ApiClient(url, token, transport=transport)
        # Every "now" of the UI comes from `clock` (tests freeze it): the inbox's default
        # defer date and the metrics screen's window.
        self.clock = clock
        self.live = live
        self.live_screens: list[Screen[None]] = []
        # The newest change heard: a screen opened later reads at least this far.
        self.position = 0
        # The inbox's first questions are asked as the app starts (see `on_load`).
        self.ahead = Ahead()
        self.add_mode(
            "inbox", self._screen(lambda: InboxScreen(self.client, self.today, self.ahead))
        )
        self.add_mode("backlog", self._screen(lambda: BacklogScreen(self.client)))
        self.add_mode("shipped", self._screen(lambda: ShippedScreen(self.client)))
        self.add_mode("metrics", self._screen(lambda: MetricsScreen(self.client, clock)))
        self.add_mode("nps", self._screen(lambda: NpsScreen(self.client, clock)))
        self.add_mode("outcomes", self._screen(lambda: OutcomesScreen(self.client)))
        self.add_mode("teams", self._screen(lambda: TeamsScreen(self.client)))

    def today(self) -> date:
        """Today (UTC) by the app's clock."""
        return self.clock().astimezone(UTC).date()

    def _screen(self, build: Callable[[], Screen[None]]) -> Callable[[], Screen[None]]:
        def make() -> Screen[None]:
            screen = build()
            self.live_screens.append(screen)
            return screen

        return make

    def on_load(self) -> None:
        # Before the screen is composed and laid out: the server answers meanwhile.
        InboxScreen.ask_ahead(self.client, self.ahead)

    def on_mount(self) -> None:
        if self.chosen_theme is not None:
            self.theme = self.chosen_theme
        self.sub_title = "connecting…" if self.live else "not live"
        self.switch_mode("inbox")
        if self.live:
            self.follow()

    async def on_unmount(self) -> None:
        self.ahead.forget()
        await self.client.aclose()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            name = type(self.screen).__name__.removesuffix("Screen")
            self.push_screen(HelpScreen(name, actions(self.screen)))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette's commands: every action of `screen` once, by what it does, then
        Textual's own but its "Keys" and "Quit" (the screen's help and quit are above)."""
        for action in actions(screen):
            if action.action != "command_palette":
                run = partial(self.run_action, action.action, action.namespace)
                # The palette reads help as markup: a key such as `[` must stay text.
                said = escape(f"{action.label} ({action.keys})")
                yield SystemCommand(action.words, said, run)
        for command in super().get_system_commands(screen):
            if command.title not in ("Keys", "Quit"):
                yield command

    async def action_show_decision(self, key: str) -> None:
        """The backlog, with the cursor on decision `key`."""
        await self.switch_mode("backlog")
        if isinstance(self.screen, BacklogScreen):
            self.screen.show(key)

    # --- live changes ------------------------------------------------------------------

    @work(exclusive=True, group="follow")
    async def follow(self) -> None:
        """Follow the change stream for as long as the app runs, reconnecting with
        Last-Event-ID so no change is missed while the connection was down."""
        last: int | None = None
        failures = 0
        while True:
            try:
                async for event, ident, data in self.client.changes(last_event_id=last):
                    if event == "ready":
                        if last is None and data.isdigit():
                            last = int(data)
                        self.post_message(LiveState(True, "live"))
                        failures = 0
                    elif event == "change":
                        change = decode_change(data)
                        last = int(ident) if ident.isdigit() else change.position
                        self.post_message(LiveChange(change))
                detail = "the server closed the live stream"
            except Refused as error:
                # A wrong or revoked token stays wrong: say so once and stop asking.
                self.post_message(LiveState(False, error.detail, final=True))
                return
            except ApiError as error:
                detail = error.detail
            except ValueError as error:  # a change we could not read
                detail = str(error)
            self.post_message(LiveState(False, detail))
            await asyncio.sleep(RETRY[min(failures, len(RETRY) - 1)])
            failures += 1

    def on_live_state(self, message: LiveState) -> None:
        if message.final:
            self.sub_title = "offline — the server refused this token"
            self.notify(
                f"{message.detail}. Check the token (LOOPLINE_TOKEN or the token file) and"
                " start again.",
                title="Not live",
                severity="error",
                timeout=30,
            )
            return
        was_live = self.sub_title == "live"
        if message.connected:
            if self.sub_title.startswith("offline"):
                self.notify("Live again: caught up with changes made meanwhile.", timeout=3)
            self.sub_title = "live"
        else:
            if was_live or self.sub_title == "connecting…":
                self.notify(
                    f"Lost the live connection; reconnecting. ({message.detail})",
                    severity="warning",
                    timeout=4,
                )
            self.sub_title = "offline — server unreachable, reconnecting…"

    def on_live_change(self, message: LiveChange) -> None:
        # Every mode's screens (out of sight ones mark themselves stale) and pushed ones
        # such as an item's detail.
        self.position = max(self.position, message.change.position)
        for screen in dict.fromkeys([*self.live_screens, *self.screen_stack]):
            if screen.is_attached and hasattr(screen, "on_live_change"):
                screen.post_message(LiveChange(message.change))
