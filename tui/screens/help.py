"""`?`: the current screen's actions in words, grouped, with the keys that do them now."""

from __future__ import annotations

from itertools import groupby

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.keys import Action, Section, bind


def table(actions: list[Action]) -> Table:
    """One row per action, a heading row per section."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column("keys", style="bold", no_wrap=True)
    grid.add_column("what", ratio=1)
    for n, (section, members) in enumerate(groupby(actions, key=lambda a: a.section)):
        if n:
            grid.add_row("", "")
        grid.add_row(f"[b]{section}[/]", "")
        for action in members:
            grid.add_row(action.keys, action.words)
    return grid


class HelpScreen(ModalScreen[None]):
    """What the screen beneath offers (read from its bindings, keymap applied)."""

    CSS_PATH = "help.tcss"
    BINDINGS = [
        bind(
            "escape,question_mark,q",
            "dismiss",
            "Close",
            "Close the help",
            key_display="esc",
            id="help.close",
            section=Section.MOVE,
        ),
    ]

    def __init__(self, title: str, actions: list[Action]) -> None:
        super().__init__()
        self.heading = title
        self.actions = actions

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label(f"Keys: {self.heading}", classes="dialog-title")
            yield Static(table(self.actions), id="help-keys")
            yield Label("esc or ? closes · ctrl+p runs any of these by name", classes="dialog-hint")
