"""The ranked backlog: a team's decisions with the demand behind them; reorder by keys."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Select, Static

from tui.client import ApiClient, ApiError, Decision, Team
from tui.formatting import STATUS_STYLE, clip
from tui.messages import LiveChange

ALL = "all"


class BacklogLoaded(Message):
    def __init__(self, decisions: list[Decision], teams: list[Team] | None) -> None:
        super().__init__()
        self.decisions = decisions
        self.teams = teams


class BacklogScreen(Screen[None]):
    CSS_PATH = "backlog.tcss"
    BINDINGS = [
        Binding("j", "down", "Down", show=False, id="backlog.down"),
        Binding("k", "up", "Up", show=False, id="backlog.up"),
        Binding("g", "first", "First", show=False, id="backlog.first"),
        Binding("G", "last", "Last", show=False, id="backlog.last"),
        Binding("K", "move(-1)", "Rank up", id="backlog.rank_up"),
        Binding("J", "move(1)", "Rank down", id="backlog.rank_down"),
        Binding("r", "refresh", "Refresh", id="backlog.refresh"),
    ]

    def __init__(self, client: ApiClient) -> None:
        super().__init__(id="backlog")
        self.client = client
        self.decisions: list[Decision] = []
        self.team: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Select[str]([("all teams", ALL)], value=ALL, allow_blank=False, compact=True)
        yield DataTable[str | Text](id="decisions", cursor_type="row", zebra_stripes=True)
        yield Static("", id="backlog-help")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Rank", "Key", "Title", "Status", "Demand", "Customers", "Detractors"):
            table.add_column(label, key=label.lower())
        table.focus()
        self.load(with_teams=True)

    @work(exclusive=True, group="backlog")
    async def load(self, with_teams: bool = False) -> None:
        try:
            teams = await self.client.teams() if with_teams else None
            decisions = await self.client.decisions(self.team)
        except ApiError as error:
            self.notify(error.detail, title="Backlog", severity="error")
            return
        self.post_message(BacklogLoaded(decisions, teams))

    def on_backlog_loaded(self, message: BacklogLoaded) -> None:
        if message.teams is not None:
            self.query_one(Select).set_options(
                [("all teams", ALL), *((t.slug, t.slug) for t in message.teams)]
            )
        self.decisions = message.decisions
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for d in message.decisions:
            table.add_row(
                str(d.rank) if d.rank is not None else "—",
                d.key,
                clip(d.title, 48),
                Text(d.status, style=STATUS_STYLE.get(d.status, "")),
                str(d.demand),
                str(d.customers),
                str(d.detractors),
                key=d.key,
            )
        table.move_cursor(row=min(row, max(0, table.row_count - 1)))
        self.query_one("#backlog-help", Static).update(
            f"{len(message.decisions)} decisions · K/J move the highlighted one up/down"
        )

    @on(Select.Changed)
    def team_changed(self, event: Select.Changed) -> None:
        team = None if event.value in (ALL, Select.NULL) else str(event.value)
        if team != self.team:
            self.team = team
            self.load()

    def action_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_first(self) -> None:
        self.query_one(DataTable).move_cursor(row=0)

    def action_last(self) -> None:
        table = self.query_one(DataTable)
        table.move_cursor(row=max(0, table.row_count - 1))

    def action_refresh(self) -> None:
        self.load(with_teams=True)

    def action_move(self, by: int) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        target = row + by
        if not self.decisions or not 0 <= target < len(self.decisions):
            return
        decision = self.decisions[row]
        table.move_cursor(row=target)
        self.rank(decision.key, target + 1)

    @work(group="rank")
    async def rank(self, key: str, position: int) -> None:
        try:
            await self.client.rank_decision(key, position)
        except ApiError as error:
            self.notify(error.detail, title=f"Rank {key}", severity="error")
        self.load()

    def on_live_change(self, message: LiveChange) -> None:
        if message.change.aggregate == "Decision" and self.is_current:
            self.load()
