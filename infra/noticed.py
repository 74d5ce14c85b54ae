"""What the in-memory caches of an API process share: they trust their entries only while
the process hears the NOTIFY channel that announces changes (server/notices.py follows it).

Every notice, and every gain or loss of the connection, starts a new generation and drops
what was kept. An answer looked up in the database is kept only if no notice arrived while
it was being looked up: it may predate the change the notice announced.
"""

from __future__ import annotations

from typing import Any, ClassVar


class NoticedCache:
    channel: ClassVar[str]
    """The NOTIFY channel whose notices end what this cache keeps."""

    def __init__(self) -> None:
        self.listening = False
        """Set while notices reach this process; until then nothing is trusted."""
        self.generation = 0
        self._entries: dict[Any, Any] = {}

    def heard(self, payload: str) -> None:
        """A notice arrived: drop everything (subclasses may drop less)."""
        self.drop_all()

    def hearing(self, on: bool) -> None:
        """Notices reach this process from now on (True), or may be missed (False)."""
        self.drop_all()
        self.listening = on

    def drop_all(self) -> None:
        self.generation += 1
        self._entries.clear()

    def keepable(self, generation: int) -> bool:
        """Whether an answer looked up during `generation` may be kept now."""
        return self.listening and generation == self.generation
