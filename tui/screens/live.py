"""A screen that follows the live stream: it reloads once per burst of changes it shows,
and a screen out of sight reloads when it is shown again."""

from __future__ import annotations

from typing import ClassVar

from textual.screen import Screen
from textual.timer import Timer

from tui.messages import LiveChange

# Changes come in bursts (an import, a bulk triage, a deploy): reload once per burst, soon
# after its first change, so a busy stream costs one reload per interval, not one per change.
DEBOUNCE = 0.3


class LiveScreen(Screen[None]):
    # The aggregates whose changes alter what the screen shows.
    FOLLOWS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.stale = False
        self.reload_timer: Timer | None = None
        # The newest position seen (live changes, our writes): reads wait for the read
        # models to reach it (`after`), so a reload never shows what was there before.
        self.seen = 0

    @property
    def after(self) -> int | None:
        # A screen opened after changes it never heard still reads them (the app heard).
        heard: int = getattr(self.app, "position", 0)
        return max(self.seen, heard) or None

    def live_reload(self) -> None:
        """Load what the screen shows again (a worker; keep the cursor where it is)."""
        raise NotImplementedError

    def on_live_change(self, message: LiveChange) -> None:
        if message.change.aggregate not in self.FOLLOWS:
            return
        self.seen = max(self.seen, message.change.position)
        if not self.is_current:
            self.stale = True
        elif self.reload_timer is None:
            self.reload_timer = self.set_timer(DEBOUNCE, self._reload)

    def _reload(self) -> None:
        self.reload_timer = None
        self.live_reload()

    def on_screen_resume(self) -> None:
        if self.stale:
            self.stale = False
            self.live_reload()
