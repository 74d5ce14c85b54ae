"""What shipped: increments with the feedback and decisions they resolved, failures and
incidents."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Label

from tui.client import ApiClient, ApiError, Incident, Increment
from tui.formatting import when
from tui.keys import Section, bind
from tui.screens.live import LiveScreen
from tui.widgets.fit_table import FitTable, flat

OUTCOME_STYLE = {"succeeded": "green3", "success": "green3", "failed": "red3", "failure": "red3"}


# What matters most comes first: on a narrow terminal the last columns scroll.
INCREMENTS = (
    ("finished", "Finished"),
    ("service", "Service"),
    ("version", "Version"),
    ("result", "Result"),
    ("resolved", "Resolved"),
    ("team", "Team"),
    ("env", "Env"),
)
INCIDENTS = (
    ("opened", "Opened"),
    ("service", "Service"),
    ("status", "Status"),
    ("title", "Title"),
    ("resolved", "Resolved"),
    ("cause", "Cause"),
)


class ShippedLoaded(Message):
    def __init__(self, increments: list[Increment], incidents: list[Incident]) -> None:
        super().__init__()
        self.increments = increments
        self.incidents = incidents


class ShippedScreen(LiveScreen):
    CSS_PATH = "shipped.tcss"
    FOLLOWS = frozenset({"Increment", "Incident", "Team"})
    BINDINGS = [
        bind("j", "down", "Down", "Next row", show=False, id="shipped.down", section=Section.MOVE),
        bind("k", "up", "Up", "Previous row", show=False, id="shipped.up", section=Section.MOVE),
        bind(
            "tab",
            "focus_next",
            "Next table",
            "Switch between increments and incidents",
            show=False,
            id="shipped.next",
            section=Section.MOVE,
        ),
        bind(
            "r",
            "refresh",
            "Refresh",
            "Load increments and incidents again",
            id="shipped.refresh",
            section=Section.VIEW,
        ),
    ]

    def __init__(self, client: ApiClient) -> None:
        super().__init__(id="shipped")
        self.client = client

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Increments", classes="heading")
        yield FitTable(INCREMENTS, flex="resolved", id="increments")
        yield Label("Incidents", classes="heading")
        yield FitTable(INCIDENTS, flex="title", id="incidents")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#increments", FitTable).focus()
        self.load()

    @work(exclusive=True, group="shipped")
    async def load(self) -> None:
        try:
            increments = await self.client.increments(after=self.after)
            incidents = await self.client.incidents(after=self.after)
        except ApiError as error:
            self.notify(error.detail, title="Shipped", severity="error")
            return
        self.post_message(ShippedLoaded(increments, incidents))

    def on_shipped_loaded(self, message: ShippedLoaded) -> None:
        self.query_one("#increments", FitTable).fill(
            (
                str(i.id),
                (
                    when(i.finished_at),
                    i.service,
                    i.release_version or (i.commit_sha or "")[:8],
                    Text(i.status, style=OUTCOME_STYLE.get(i.status, "")),
                    flat(", ".join([*i.decision_refs, *i.feedback_refs]) or "—"),
                    i.team or "",
                    i.environment,
                ),
            )
            for i in message.increments
        )
        self.query_one("#incidents", FitTable).fill(
            (
                str(n.id),
                (
                    when(n.opened_at),
                    n.service,
                    Text(n.status, style="red3" if n.status == "open" else ""),
                    flat(n.title),
                    when(n.resolved_at),
                    (n.caused_by_sha or "")[:8],
                ),
            )
            for n in message.incidents
        )

    def action_down(self) -> None:
        table = self.focused
        if isinstance(table, DataTable):
            table.action_cursor_down()

    def action_up(self) -> None:
        table = self.focused
        if isinstance(table, DataTable):
            table.action_cursor_up()

    def action_refresh(self) -> None:
        self.load()

    def live_reload(self) -> None:
        self.load()
