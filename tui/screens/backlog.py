"""The ranked backlog: each team's decisions with the demand behind them; reorder by keys,
accept, decline or supersede a proposal."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer, Header, Select, Static

from tui.client import ApiClient, ApiError, Decision, Team, WriteResult
from tui.formatting import STATUS_STYLE, clip
from tui.keys import Section, bind
from tui.screens.live import LiveScreen
from tui.screens.prompts import Field, FormPrompt, PickPrompt
from tui.widgets.fit_table import FitTable, flat

ALL = "all"
# Decisions with a place in a team's ranking (the server refuses to rank the others).
RANKABLE = ("accepted", "in_progress")
COLUMNS = (
    ("team", "Team"),
    ("rank", "Rank"),
    ("key", "Key"),
    ("title", "Title"),
    ("status", "Status"),
    ("demand", "Demand"),
    ("customers", "Cust."),
    ("detractors", "Detr."),
)


class BacklogLoaded(Message):
    def __init__(self, decisions: list[Decision], teams: list[Team] | None) -> None:
        super().__init__()
        self.decisions = decisions
        self.teams = teams


class Decided(Message):
    """A write on a decision went through; the list reloads with the cursor on `key`."""

    def __init__(self, key: str, said: str, result: WriteResult) -> None:
        super().__init__()
        self.key = key
        self.said = said
        self.result = result


def ordered(decisions: list[Decision]) -> list[Decision]:
    """Each team's backlog in rank order (ranks are per team), unranked proposals last."""
    return sorted(
        decisions,
        key=lambda d: (d.team or "", d.rank is None, d.rank or 0, d.key),
    )


class BacklogScreen(LiveScreen):
    CSS_PATH = "backlog.tcss"
    # Demand comes from feedback, so its changes move the figures too.
    FOLLOWS = frozenset({"Decision", "Feedback", "Team"})
    BINDINGS = [
        bind(
            "j",
            "down",
            "Down",
            "Next decision",
            show=False,
            id="backlog.down",
            section=Section.MOVE,
        ),
        bind(
            "k", "up", "Up", "Previous decision", show=False, id="backlog.up", section=Section.MOVE
        ),
        bind(
            "g",
            "first",
            "First",
            "First decision",
            show=False,
            id="backlog.first",
            section=Section.MOVE,
        ),
        bind(
            "G",
            "last",
            "Last",
            "Last decision",
            show=False,
            id="backlog.last",
            section=Section.MOVE,
        ),
        bind(
            "K",
            "move(-1)",
            "Rank up",
            "Move the decision up in its team's ranking",
            id="backlog.rank_up",
            section=Section.ACT,
        ),
        bind(
            "J",
            "move(1)",
            "Rank down",
            "Move the decision down in its team's ranking",
            id="backlog.rank_down",
            section=Section.ACT,
        ),
        bind(
            "a",
            "accept",
            "Accept",
            "Accept the proposal into the ranked backlog",
            id="backlog.accept",
            section=Section.ACT,
        ),
        bind(
            "d",
            "decline",
            "Decline",
            "Decline the decision, with a reason",
            id="backlog.decline",
            section=Section.ACT,
        ),
        bind(
            "x",
            "supersede",
            "Supersede",
            "Supersede the decision by another of its team",
            id="backlog.supersede",
            section=Section.ACT,
        ),
        bind(
            "r",
            "refresh",
            "Refresh",
            "Load the backlog again",
            show=False,
            id="backlog.refresh",
            section=Section.VIEW,
        ),
    ]

    def __init__(self, client: ApiClient) -> None:
        super().__init__(id="backlog")
        self.client = client
        self.decisions: list[Decision] = []
        self.team: str | None = None
        # The decision the cursor should be on after the next load (one just moved).
        self.follow: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Select[str]([("all teams", ALL)], value=ALL, allow_blank=False, compact=True)
        yield FitTable(COLUMNS, flex="title", id="decisions")
        yield Static("", id="backlog-help")
        yield Footer()

    @property
    def table(self) -> FitTable:
        return self.query_one("#decisions", FitTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.load(with_teams=True)

    @work(exclusive=True, group="backlog")
    async def load(self, with_teams: bool = False) -> None:
        try:
            teams = await self.client.teams(after=self.after) if with_teams else None
            decisions = await self.client.decisions(self.team, after=self.after)
        except ApiError as error:
            self.notify(error.detail, title="Backlog", severity="error")
            return
        self.post_message(BacklogLoaded(decisions, teams))

    def on_backlog_loaded(self, message: BacklogLoaded) -> None:
        if message.teams is not None:
            select = self.query_one(Select)
            current = select.value
            select.set_options([("all teams", ALL), *((t.slug, t.slug) for t in message.teams)])
            if current in {t.slug for t in message.teams}:
                select.value = current
        # The cursor stays on its decision (rows move when ranks change): the one a write
        # asked for, else the one highlighted now, as the answer lands (not as it was asked
        # for: the user may have moved on meanwhile).
        keep = self.follow or (d.key if (d := self.current()) else None)
        self.follow = None
        self.decisions = ordered(message.decisions)
        table = self.table
        table.fill(
            (
                d.key,
                (
                    d.team or "",
                    str(d.rank) if d.rank is not None else "—",
                    d.key,
                    flat(d.title),
                    Text(d.status, style=STATUS_STYLE.get(d.status, "")),
                    str(d.demand),
                    str(d.customers),
                    str(d.detractors),
                ),
            )
            for d in self.decisions
        )
        keys = [d.key for d in self.decisions]
        if keep in keys:
            table.move_cursor(row=keys.index(keep))
        self.query_one("#backlog-help", Static).update(
            f"{len(self.decisions)} decisions · ranks are per team · K/J move the highlighted"
            " one up/down within its team · a accept · d decline · x supersede"
        )

    @on(Select.Changed)
    def team_changed(self, event: Select.Changed) -> None:
        team = None if event.value in (ALL, Select.NULL) else str(event.value)
        if team != self.team:
            self.team = team
            self.load()

    def show(self, key: str) -> None:
        """Put the cursor on decision `key`, across all teams if this team's list lacks it."""
        keys = [d.key for d in self.decisions]
        if key in keys:
            self.table.move_cursor(row=keys.index(key))
            return
        self.follow = key
        if self.team is None:
            self.load(with_teams=True)  # (it may replace the first load, teams and all)
        else:
            self.query_one(Select).value = ALL  # its change reloads all teams

    def current(self) -> Decision | None:
        row = self.table.cursor_row
        return self.decisions[row] if 0 <= row < len(self.decisions) else None

    def action_down(self) -> None:
        self.table.action_cursor_down()

    def action_up(self) -> None:
        self.table.action_cursor_up()

    def action_first(self) -> None:
        self.table.move_cursor(row=0)

    def action_last(self) -> None:
        self.table.move_cursor(row=max(0, self.table.row_count - 1))

    def action_refresh(self) -> None:
        self.load(with_teams=True)

    # --- ranking -------------------------------------------------------------------------

    def action_move(self, by: int) -> None:
        decision = self.current()
        if decision is None:
            return
        if decision.status not in RANKABLE:
            self.notify(
                f"{decision.key} is {decision.status}: only an accepted decision has a place"
                " in the ranking. Accept it first (a).",
                severity="warning",
            )
            return
        # Ranks are per team: move among the team's own rankable decisions.
        ranked = [d for d in self.decisions if d.team == decision.team and d.status in RANKABLE]
        at = ranked.index(decision) + by
        if not 0 <= at < len(ranked):
            return
        self.follow = decision.key
        # The row moves at once; the reload that follows confirms it.
        self.table.move_cursor(row=self.decisions.index(ranked[at]))
        self.rank(decision.key, at + 1)

    @work(group="rank")
    async def rank(self, key: str, position: int) -> None:
        try:
            result = await self.client.rank_decision(key, position)
            self.seen = max(self.seen, result.position or 0)
        except ApiError as error:
            self.notify(error.detail, title=f"Rank {key}", severity="error")
        self.load()

    # --- deciding ------------------------------------------------------------------------

    def action_accept(self) -> None:
        decision = self.current()
        if decision is not None:
            self.decide(decision.key, f"Accepted {decision.key}", "accept")

    def action_decline(self) -> None:
        decision = self.current()
        if decision is None:
            return

        def chosen(answer: dict[str, str] | None) -> None:
            if answer:
                self.decide(decision.key, f"Declined {decision.key}", "decline", answer["why"])

        form = FormPrompt(
            f"Decline {decision.key} {clip(decision.title, 40)}",
            [
                Field(
                    "why",
                    "Why?",
                    placeholder="why not (the askers are told this)",
                    required="Say why it is declined: the people who asked will be told.",
                )
            ],
        )
        self.app.push_screen(form, chosen)

    def action_supersede(self) -> None:
        decision = self.current()
        if decision is None:
            return
        others = [
            (d.key, f"{d.key}  {clip(d.title, 50)}  ({d.status})")
            for d in self.decisions
            if d.key != decision.key and d.team == decision.team
        ]
        if not others:
            self.notify(f"No other decision of {decision.team} to supersede it.")
            return

        def chosen(by: str | None) -> None:
            if by:
                self.decide(decision.key, f"{decision.key} superseded by {by}", "supersede", by)

        self.app.push_screen(PickPrompt(f"{decision.key} is superseded by", others), chosen)

    @work(group="decide")
    async def decide(self, key: str, said: str, verb: str, detail: str = "") -> None:
        try:
            if verb == "accept":
                result = await self.client.accept_decision(key)
            elif verb == "decline":
                result = await self.client.decline_decision(key, detail)
            else:
                result = await self.client.supersede_decision(key, detail)
        except ApiError as error:
            self.notify(error.detail, title=key, severity="error")
            return
        self.post_message(Decided(key, said, result))

    def on_decided(self, message: Decided) -> None:
        self.seen = max(self.seen, message.result.position or 0)
        self.notify(message.said, timeout=3)
        self.follow = message.key
        self.load()

    def live_reload(self) -> None:
        self.load(with_teams=True)
