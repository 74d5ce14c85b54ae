"""Messages the live-stream worker posts to the screens."""

from __future__ import annotations

from textual.message import Message

from tui.client import Change


class LiveChange(Message, bubble=False):
    """Someone (maybe us) changed something; screens showing it update in place.

    It does not bubble: the app hands it to each screen, and a screen's copy must not come
    back up to the app (which would hand it out again, forever). Textual takes `bubble` as
    a class keyword: a `bubble = False` class attribute is overwritten by Message's
    `__init_subclass__` default."""

    def __init__(self, change: Change) -> None:
        super().__init__()
        self.change = change


class LiveState(Message, bubble=False):
    """The live stream connected, or lost its connection and is retrying (or, `final`,
    stopped: the server refused the token)."""

    def __init__(self, connected: bool, detail: str, *, final: bool = False) -> None:
        super().__init__()
        self.connected = connected
        self.detail = detail
        self.final = final
