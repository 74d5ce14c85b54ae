"""Teams (members by handle and skills, the repositories they ship) and the outcomes."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from tui.client import ApiClient, ApiError, Outcome, Team
from tui.formatting import clip


class TeamsLoaded(Message):
    def __init__(self, teams: list[Team], outcomes: list[Outcome]) -> None:
        super().__init__()
        self.teams = teams
        self.outcomes = outcomes


class TeamsScreen(Screen[None]):
    CSS_PATH = "teams.tcss"
    BINDINGS = [Binding("r", "refresh", "Refresh", id="teams.refresh")]

    def __init__(self, client: ApiClient) -> None:
        super().__init__(id="teams")
        self.client = client

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Teams", classes="heading")
        yield DataTable[str](id="team-list", cursor_type="row", zebra_stripes=True)
        yield Label("Outcomes", classes="heading")
        yield DataTable[str](id="outcome-list", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        teams = self.query_one("#team-list", DataTable)
        for label in ("Team", "Name", "Members", "Repositories"):
            teams.add_column(label, key=label.lower())
        outcomes = self.query_one("#outcome-list", DataTable)
        for label in ("Outcome", "Measured by", "Teams", "Status"):
            outcomes.add_column(label, key=label.lower())
        teams.focus()
        self.load()

    @work(exclusive=True, group="teams")
    async def load(self) -> None:
        try:
            teams = await self.client.teams()
        except ApiError as error:
            self.notify(error.detail, title="Teams", severity="error")
            return
        try:
            outcomes = await self.client.outcomes()
        except ApiError as error:
            self.notify(error.detail, title="Outcomes", severity="error")
            outcomes = []
        self.post_message(TeamsLoaded(teams, outcomes))

    def on_teams_loaded(self, message: TeamsLoaded) -> None:
        table = self.query_one("#team-list", DataTable)
        table.clear()
        for t in message.teams:
            members = ", ".join(
                f"{m.handle} ({'/'.join(m.skills)})" if m.skills else m.handle for m in t.members
            )
            table.add_row(
                t.slug, t.name, clip(members or "—", 50), clip(", ".join(t.repositories), 30)
            )
        outcomes = self.query_one("#outcome-list", DataTable)
        outcomes.clear()
        for o in message.outcomes:
            outcomes.add_row(
                clip(o.statement, 50), clip(o.measure, 30), ", ".join(o.teams), o.status
            )

    def action_refresh(self) -> None:
        self.load()
