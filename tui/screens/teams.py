"""Teams (members by handle and skills, the repositories they ship) and the outcomes."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer, Header, Label

from tui.client import ApiClient, ApiError, Outcome, Team
from tui.keys import Section, bind
from tui.screens.live import LiveScreen
from tui.widgets.fit_table import FitTable, flat

TEAM_COLUMNS = (
    ("team", "Team"),
    ("name", "Name"),
    ("members", "Members"),
    ("repositories", "Repositories"),
)
OUTCOME_COLUMNS = (
    ("outcome", "Outcome"),
    ("measure", "Measured by"),
    ("teams", "Teams"),
    ("status", "Status"),
)


def members(team: Team) -> str:
    return ", ".join(
        f"{m.handle} ({'/'.join(m.skills)})" if m.skills else m.handle for m in team.members
    )


class TeamsLoaded(Message):
    def __init__(self, teams: list[Team], outcomes: list[Outcome]) -> None:
        super().__init__()
        self.teams = teams
        self.outcomes = outcomes


class TeamsScreen(LiveScreen):
    CSS_PATH = "teams.tcss"
    FOLLOWS = frozenset({"Team", "Outcome", "Feedback", "Increment"})
    BINDINGS = [
        bind(
            "r",
            "refresh",
            "Refresh",
            "Load teams and outcomes again",
            id="teams.refresh",
            section=Section.VIEW,
        )
    ]

    def __init__(self, client: ApiClient) -> None:
        super().__init__(id="teams")
        self.client = client

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Teams", classes="heading")
        yield FitTable(TEAM_COLUMNS, flex="members", id="team-list")
        yield Label("Outcomes", classes="heading")
        yield FitTable(OUTCOME_COLUMNS, flex="outcome", id="outcome-list")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#team-list", FitTable).focus()
        self.load()

    @work(exclusive=True, group="teams")
    async def load(self) -> None:
        try:
            teams = await self.client.teams(after=self.after)
        except ApiError as error:
            self.notify(error.detail, title="Teams", severity="error")
            return
        try:
            outcomes = await self.client.outcomes(after=self.after)
        except ApiError as error:
            self.notify(error.detail, title="Outcomes", severity="error")
            outcomes = []
        self.post_message(TeamsLoaded(teams, outcomes))

    def on_teams_loaded(self, message: TeamsLoaded) -> None:
        self.query_one("#team-list", FitTable).fill(
            (str(t.id), (t.slug, t.name, flat(members(t) or "—"), ", ".join(t.repositories)))
            for t in message.teams
        )
        self.query_one("#outcome-list", FitTable).fill(
            (str(o.id), (flat(o.statement), o.measure, ", ".join(o.teams), o.status))
            for o in message.outcomes
        )

    def action_refresh(self) -> None:
        self.load()

    def live_reload(self) -> None:
        self.load()
