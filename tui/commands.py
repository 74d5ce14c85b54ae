"""The command palette's provider: every screen and the common actions, by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

SCREENS = (
    ("inbox", "Inbox", "Triage feedback: filter, search, act"),
    ("backlog", "Backlog", "Ranked decisions with their demand"),
    ("shipped", "Shipped", "Increments, the feedback they resolved, failures and incidents"),
    ("metrics", "Metrics", "Lead times, weekly trends and DORA"),
    ("teams", "Teams and outcomes", "Who owns what, and the outcomes they serve"),
)

ACTIONS = (
    ("screen.refresh", "Refresh", "Load this screen again"),
    ("screen.undo", "Undo", "Take back the last inbox action (again for the one before)"),
    ("app.help", "Keys", "Show or hide the keys of this screen"),
    ("app.quit", "Quit", "Leave Loopline"),
)


class LooplineCommands(Provider):
    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        found: list[tuple[str, str, Callable[[], object]]] = [
            (f"Go to {title}", help, partial(self.app.switch_mode, mode))
            for mode, title, help in SCREENS
        ]
        found += [
            (title, help, partial(self.app.run_action, action)) for action, title, help in ACTIONS
        ]
        return found

    async def discover(self) -> Hits:
        for title, help, callback in self.commands():
            yield DiscoveryHit(title, callback, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help, callback in self.commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help)
