"""The terminal UI served to browsers by textual-serve: each browser tab runs the UI as a
process of its own and talks to it over a websocket."""

from __future__ import annotations

import logging

from textual_serve.server import Server


class WebServer(Server):
    """textual-serve's server with plain log lines: its own logging renders tracebacks
    with every frame's locals, where a token could show."""

    def initialize_logging(self) -> None:
        logging.basicConfig(
            level=logging.DEBUG if self.debug else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
