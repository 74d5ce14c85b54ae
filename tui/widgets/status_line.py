"""One line under a list: what is loaded and what is selected."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class StatusLine(Static):
    summary: reactive[str] = reactive("")

    def render(self) -> str:
        return self.summary
