"""Customer outcomes and their scorecards: the teams aligned to each, its open items, the
demand behind it, its NPS and how fast its asks ship."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Label, Static

from tui.client import ApiClient, ApiError, Scorecard
from tui.formatting import duration
from tui.keys import Section, bind
from tui.screens.live import LiveScreen
from tui.widgets.fit_table import FitTable, flat

COLUMNS = (
    ("outcome", "Outcome"),
    ("teams", "Teams"),
    ("open", "Open"),
    ("demand", "Demand"),
    ("customers", "Customers"),
    ("nps", "NPS"),
    ("ship", "Ship p50"),
)


class ScorecardsLoaded(Message):
    def __init__(self, cards: list[Scorecard]) -> None:
        super().__init__()
        self.cards = cards


def nps(card: Scorecard) -> str:
    return "—" if card.nps is None else f"{card.nps:+.0f} ({card.nps_responses})"


def row(card: Scorecard) -> tuple[str | Text, ...]:
    return (
        flat(card.statement),
        ", ".join(t.slug for t in card.teams) or "—",
        str(card.open_items),
        str(card.demand),
        str(card.customers),
        nps(card),
        duration(card.time_to_ship.p50),
    )


def scorecard(card: Scorecard) -> RenderableType:
    """The highlighted outcome in full: what it is, how it is measured, its figures."""
    teams = ", ".join(t.slug for t in card.teams) or "no team yet"
    lines = [
        Text(card.statement, style="bold"),
        Text(
            f"Measured by {card.measure or '—'}"
            + (f" · target {card.target}" if card.target else "")
        ),
        Text(f"{card.status} · teams: {teams}", style="dim"),
        Text(
            f"{card.items} items aligned, {card.open_items} open · demand {card.demand}"
            f" from {card.customers} customers, {card.detractors} detractors"
        ),
        Text(
            (
                "no NPS responses"
                if card.nps is None
                else f"NPS {card.nps:+.0f} from {card.nps_responses} responses"
            )
            + f" · time to ship p50 {duration(card.time_to_ship.p50)} over"
            f" {card.time_to_ship.count} shipped"
        ),
    ]
    return Group(*lines)


class OutcomesScreen(LiveScreen):
    CSS_PATH = "outcomes.tcss"
    FOLLOWS = frozenset({"Outcome", "Team", "Feedback", "Increment"})
    BINDINGS = [
        bind(
            "j",
            "down",
            "Down",
            "Next outcome",
            show=False,
            id="outcomes.down",
            section=Section.MOVE,
        ),
        bind(
            "k", "up", "Up", "Previous outcome", show=False, id="outcomes.up", section=Section.MOVE
        ),
        bind("r", "refresh", "Refresh", "Load again", id="outcomes.refresh", section=Section.VIEW),
    ]

    def __init__(self, client: ApiClient) -> None:
        super().__init__(id="outcomes")
        self.client = client
        self.cards: dict[str, Scorecard] = {}
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Outcomes", classes="heading")
        yield FitTable(COLUMNS, flex="outcome", id="scorecards")
        yield Static("", id="scorecard")
        yield Footer()

    @property
    def table(self) -> FitTable:
        return self.query_one("#scorecards", FitTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.load()

    @work(exclusive=True, group="outcomes")
    async def load(self) -> None:
        try:
            cards = await self.client.scorecards(after=self.after)
        except ApiError as error:
            self.notify(error.detail, title="Outcomes", severity="error")
            return
        self.post_message(ScorecardsLoaded(cards))

    def on_scorecards_loaded(self, message: ScorecardsLoaded) -> None:
        self.cards = {str(c.id): c for c in message.cards}
        self.table.fill((str(c.id), row(c)) for c in message.cards)
        self.show_current()
        self.loaded = True

    def show_current(self) -> None:
        table = self.table
        card = None
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            card = self.cards.get(key or "")
        shown = scorecard(card) if card else "No outcomes yet: define one with the API."
        self.query_one("#scorecard", Static).update(shown)

    @on(DataTable.RowHighlighted, "#scorecards")
    def highlighted(self) -> None:
        self.show_current()

    def action_down(self) -> None:
        self.table.action_cursor_down()

    def action_up(self) -> None:
        self.table.action_cursor_up()

    def action_refresh(self) -> None:
        self.load()

    def live_reload(self) -> None:
        self.load()
