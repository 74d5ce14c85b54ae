"""Messages the live-stream worker posts to the screens."""

from __future__ import annotations

from textual.message import Message

from tui.client import Change


class LiveChange(Message):
    """Someone (maybe us) changed something; screens showing it update in place."""

    def __init__(self, change: Change) -> None:
        super().__init__()
        self.change = change


class LiveState(Message):
    """The live stream connected, or lost its connection and is retrying."""

    def __init__(self, connected: bool, detail: str) -> None:
        super().__init__()
        self.connected = connected
        self.detail = detail
