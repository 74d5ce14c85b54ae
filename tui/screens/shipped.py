"""What shipped: increments with the feedback and decisions they resolved, failures and
incidents."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from tui.client import ApiClient, ApiError, Incident, Increment
from tui.formatting import clip, when
from tui.messages import LiveChange

OUTCOME_STYLE = {"succeeded": "green3", "success": "green3", "failed": "red3", "failure": "red3"}


class ShippedLoaded(Message):
    def __init__(self, increments: list[Increment], incidents: list[Incident]) -> None:
        super().__init__()
        self.increments = increments
        self.incidents = incidents


class ShippedScreen(Screen[None]):
    CSS_PATH = "shipped.tcss"
    BINDINGS = [
        Binding("j", "down", "Down", show=False, id="shipped.down"),
        Binding("k", "up", "Up", show=False, id="shipped.up"),
        Binding("tab", "focus_next", "Next table", show=False, id="shipped.next"),
        Binding("r", "refresh", "Refresh", id="shipped.refresh"),
    ]

    def __init__(self, client: ApiClient) -> None:
        super().__init__(id="shipped")
        self.client = client

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Increments", classes="heading")
        yield DataTable[str | Text](id="increments", cursor_type="row", zebra_stripes=True)
        yield Label("Incidents", classes="heading")
        yield DataTable[str | Text](id="incidents", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        increments = self.query_one("#increments", DataTable)
        for label in ("Finished", "Service", "Version", "Env", "Result", "Team", "Resolved"):
            increments.add_column(label, key=label.lower())
        incidents = self.query_one("#incidents", DataTable)
        for label in ("Opened", "Service", "Title", "Status", "Resolved", "Cause"):
            incidents.add_column(label, key=label.lower())
        increments.focus()
        self.load()

    @work(exclusive=True, group="shipped")
    async def load(self) -> None:
        try:
            increments = await self.client.increments()
            incidents = await self.client.incidents()
        except ApiError as error:
            self.notify(error.detail, title="Shipped", severity="error")
            return
        self.post_message(ShippedLoaded(increments, incidents))

    def on_shipped_loaded(self, message: ShippedLoaded) -> None:
        table = self.query_one("#increments", DataTable)
        table.clear()
        for i in message.increments:
            resolved = ", ".join([*i.decision_refs, *i.feedback_refs]) or "—"
            table.add_row(
                when(i.finished_at),
                i.service,
                clip(i.release_version or (i.commit_sha or "")[:8], 12),
                i.environment,
                Text(i.status, style=OUTCOME_STYLE.get(i.status, "")),
                i.team or "",
                clip(resolved, 40),
            )
        incidents = self.query_one("#incidents", DataTable)
        incidents.clear()
        for n in message.incidents:
            incidents.add_row(
                when(n.opened_at),
                n.service,
                clip(n.title, 36),
                Text(n.status, style="red3" if n.status == "open" else ""),
                when(n.resolved_at),
                (n.caused_by_sha or "")[:8],
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

    def on_live_change(self, message: LiveChange) -> None:
        if message.change.aggregate in ("Increment", "Incident") and self.is_current:
            self.load()
