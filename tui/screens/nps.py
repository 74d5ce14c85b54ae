"""NPS and its why: the score with its 95 % margin and its trend, the themes that mark
detractors, and the detractors still owed a follow-up (oldest first), from which an item
opens or its loop is closed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Label, Select, Static
from textual_plotext import PlotextPlot

from tui.client import (
    ApiClient,
    ApiError,
    Detractor,
    FollowUpGroup,
    FollowUpQueue,
    Nps,
    NpsGroup,
    NpsWhy,
    Team,
    WriteResult,
)
from tui.formatting import STATUS_STYLE, duration
from tui.keys import Section, bind
from tui.screens.detail import DetailScreen
from tui.screens.live import LiveScreen
from tui.screens.prompts import FormPrompt, close_loop_form, follow_up_form
from tui.widgets.fit_table import FitTable, flat
from tui.widgets.window import WindowPicker

ALL = "all"
PERIODS = (("by week", "week"), ("by month", "month"))
THEMES = (("theme", "Theme"), ("det", "Det"), ("pro", "Pro"), ("examples", "e.g."))
QUEUE = (
    ("waiting", "Waiting"),
    ("key", "Key"),
    ("team", "Team"),
    ("score", "Score"),
    ("status", "Status"),
    ("why", "Why"),
)
# Terms and tags shown as themes (the why's strongest first).
TOP = 5


class NpsLoaded(Message):
    def __init__(
        self,
        overall: Nps,
        series: Nps,
        why: NpsWhy,
        queue: FollowUpQueue,
        follow_ups: FollowUpGroup | None,
        teams: list[Team] | None,
        span: tuple[datetime, datetime],
    ) -> None:
        super().__init__()
        self.overall = overall
        self.series = series
        self.why = why
        self.queue = queue
        self.follow_ups = follow_ups
        self.teams = teams
        self.span = span


def score(group: NpsGroup | None) -> str:
    """ "NPS +12 ±18" (or "no responses")."""
    if group is None or group.nps is None:
        return "NPS — (no responses)"
    margin = f" ±{group.margin:.0f}" if group.margin is not None else ""
    return f"NPS {group.nps:+.0f}{margin}"


def summary(overall: Nps, follow_ups: FollowUpGroup | None, waiting: int) -> str:
    group = overall.groups[0] if overall.groups else None
    lines = [f"[b]{score(group)}[/b]"]
    if group is not None and group.responses:
        lines[0] += (
            f" (95 %) · {group.responses} responses: {group.promoters} promoters,"
            f" {group.passives} passives, {group.detractors} detractors"
        )
    follow = f"Follow-ups: {waiting} waiting"
    if follow_ups is not None and follow_ups.detractors:
        share = follow_ups.share_within_48h
        follow += f" · {'—' if share is None else f'{100 * share:.0f}%'} within 48 h"
        follow += f" · time to follow up p50 {duration(follow_ups.p50)}"
        follow += f", p85 {duration(follow_ups.p85)}"
    lines.append(follow)
    return "\n".join(lines)


def themes(why: NpsWhy) -> list[tuple[str, tuple[str | Text, ...]]]:
    """The words that most mark detractors' whys, then the tags detractors carry most."""
    rows: list[tuple[str, tuple[str | Text, ...]]] = []
    for term in why.detractor_terms[:TOP]:
        rows.append(
            (
                f"term:{term.term}",
                (
                    term.term,
                    str(term.detractors),
                    str(term.promoters),
                    flat(", ".join(term.examples)),
                ),
            )
        )
    tags = sorted((t for t in why.tags if t.detractors), key=lambda t: (-t.detractors, t.tag))
    for tag in tags[:TOP]:
        rows.append(
            (
                f"tag:{tag.tag}",
                (
                    f"#{tag.tag}",
                    str(tag.detractors),
                    str(tag.promoters),
                    flat(", ".join(tag.examples)),
                ),
            )
        )
    return rows


def queue_row(d: Detractor, now: datetime) -> tuple[str | Text, ...]:
    """A waiting detractor; how long by the app's clock (the same on every screen)."""
    key = d.key if d.item_key == d.key else f"{d.key} (of {d.item_key})"
    status = d.item_status or ""
    return (
        duration(max(0.0, (now - d.received_at).total_seconds())),
        key,
        d.team or "—",
        Text(str(d.score), style="red3"),
        Text(status, style=STATUS_STYLE.get(status, "")),
        flat(d.why or ""),
    )


class NpsScreen(LiveScreen):
    CSS_PATH = "nps.tcss"
    FOLLOWS = frozenset({"Feedback", "Team"})
    BINDINGS = [
        bind(
            "enter",
            "open",
            "Open",
            "Open the detractor's item (its detail and history)",
            id="nps.open",
            section=Section.ACT,
        ),
        bind(
            "f",
            "follow_up",
            "Follow up",
            "Follow up: record that the detractor was contacted (in any status)",
            id="nps.follow_up",
            section=Section.ACT,
        ),
        bind(
            "c",
            "close_loop",
            "Close loop",
            "Close the loop on the detractor's item: how the customer was told",
            id="nps.close_loop",
            section=Section.ACT,
        ),
        bind(
            "j", "down", "Down", "Next detractor", show=False, id="nps.down", section=Section.MOVE
        ),
        bind("k", "up", "Up", "Previous detractor", show=False, id="nps.up", section=Section.MOVE),
        bind("r", "refresh", "Refresh", "Load again", id="nps.refresh", section=Section.VIEW),
    ]

    def __init__(self, client: ApiClient, clock: Callable[[], datetime]) -> None:
        super().__init__(id="nps")
        self.client = client
        self.clock = clock
        self.team: str | None = None
        self.period = "week"
        self.loaded = False
        self.waiting: dict[str, Detractor] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="nps-filters"):
            yield Select[str](
                [("all teams", ALL)], value=ALL, allow_blank=False, compact=True, id="team"
            )
            yield Select[str](
                PERIODS, value=self.period, allow_blank=False, compact=True, id="period"
            )
            yield WindowPicker(id="window")
        yield Static("", id="nps-summary")
        with Horizontal(id="nps-middle"):
            with Vertical(id="nps-trend-box"):
                yield PlotextPlot(id="nps-trend")
            yield FitTable(THEMES, flex="examples", id="themes", zebra_stripes=False)
        yield Label("", id="queue-heading", classes="heading")
        yield FitTable(QUEUE, flex="why", id="queue")
        yield Footer()

    @property
    def queue(self) -> FitTable:
        return self.query_one("#queue", FitTable)

    def on_mount(self) -> None:
        self.queue.focus()
        self.load(with_teams=True)

    @work(exclusive=True, group="nps")
    async def load(self, with_teams: bool = False) -> None:
        try:
            span = start, end = self.query_one(WindowPicker).window.span(self.clock())
            after, team = self.after, self.team
            teams = await self.client.teams(after=after) if with_teams else None
            overall = await self.client.nps(team=team, start=start, end=end, after=after)
            series = await self.client.nps(
                team=team, group_by=self.period, start=start, end=end, after=after
            )
            why = await self.client.nps_why(team=team, start=start, end=end, limit=TOP)
            queue = await self.client.nps_follow_ups(team=team, after=after)
            times = await self.client.nps_follow_up_time(team=team, start=start, end=end)
        except ApiError as error:
            self.notify(error.detail, title="NPS", severity="error")
            return
        follow_ups = times.groups[0] if times.groups else None
        self.post_message(NpsLoaded(overall, series, why, queue, follow_ups, teams, span))

    def on_nps_loaded(self, message: NpsLoaded) -> None:
        if message.teams is not None:
            self.query_one("#team", Select).set_options(
                [("all teams", ALL), *((t.slug, t.slug) for t in message.teams)]
            )
        self.query_one(WindowPicker).show(message.span)
        queue = message.queue
        self.query_one("#nps-summary", Static).update(
            summary(message.overall, message.follow_ups, queue.total)
        )
        self.query_one("#themes", FitTable).fill(themes(message.why))
        self.waiting = {d.key: d for d in queue.items}
        now = self.clock()
        self.queue.fill((d.key, queue_row(d, now)) for d in queue.items)
        shown = f"{len(queue.items)} of {queue.total}" if queue.total > len(queue.items) else ""
        self.query_one("#queue-heading", Label).update(
            f"Detractors waiting for a follow-up, oldest first {shown}".rstrip()
        )
        self.plot(message.series)
        self.loaded = True

    def plot(self, series: Nps) -> None:
        periods = [g for g in series.groups if g.group.get(self.period)]
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"NPS by {self.period}, with its 95 % margin")
        scored = [(n, g) for n, g in enumerate(periods) if g.nps is not None]
        if scored:
            xs = [float(n) for n, _ in scored]
            nps = [g.nps or 0.0 for _, g in scored]
            margins = [g.margin or 0.0 for _, g in scored]
            plt.plot(xs, nps, label="NPS", marker="braille")
            # The interval, within the scale's -100..100 (one answer's margin is wider).
            low = [max(-100.0, v - m) for v, m in zip(nps, margins, strict=True)]
            high = [min(100.0, v + m) for v, m in zip(nps, margins, strict=True)]
            plt.plot(xs, low, marker="dot")
            plt.plot(xs, high, marker="dot")
            plt.ylim(-100, 100)
            step = max(1, len(periods) // 4)
            ticks = list(range(0, len(periods), step))
            plt.xticks(
                [float(n) for n in ticks],
                [str(periods[n].group.get(self.period))[5:] for n in ticks],
            )
        plot.refresh()

    # --- choosing ----------------------------------------------------------------------

    @on(Select.Changed, "#team")
    def team_changed(self, event: Select.Changed) -> None:
        team = None if str(event.value) == ALL else str(event.value)
        if team != self.team:
            self.team = team
            self.load()

    @on(Select.Changed, "#period")
    def period_changed(self, event: Select.Changed) -> None:
        if str(event.value) != self.period:
            self.period = str(event.value)
            self.load()

    def on_window_picker_changed(self, message: WindowPicker.Changed) -> None:
        self.load()

    # --- the queue -----------------------------------------------------------------------

    def current(self) -> Detractor | None:
        table = self.queue
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.waiting.get(key or "")

    def action_down(self) -> None:
        self.queue.action_cursor_down()

    def action_up(self) -> None:
        self.queue.action_cursor_up()

    @on(FitTable.RowSelected, "#queue")
    def row_selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        detractor = self.current()
        if detractor is not None:
            self.app.push_screen(DetailScreen(self.client, detractor.item_key))

    def action_follow_up(self) -> None:
        self.contact(follow_up_form, self.client.follow_up, "Followed up on")

    def action_close_loop(self) -> None:
        self.contact(close_loop_form, self.client.close_loop, "Closed the loop on")

    def contact(
        self,
        form: Callable[[str], FormPrompt],
        write: Callable[[str, str, str | None], Awaitable[WriteResult]],
        said: str,
    ) -> None:
        """Ask how the highlighted detractor was contacted, then record it with `write`
        (the item whose follow-up counts: a duplicate's original)."""
        detractor = self.current()
        if detractor is None:
            return
        key = detractor.item_key

        def chosen(answer: dict[str, str] | None) -> None:
            if answer:
                how, note = answer["how"], answer["note"] or None
                self.record(write, key, how, note, f"{said} {key} ({how})")

        self.app.push_screen(form(key), chosen)

    @work(group="write")
    async def record(
        self,
        write: Callable[[str, str, str | None], Awaitable[WriteResult]],
        key: str,
        how: str,
        note: str | None,
        said: str,
    ) -> None:
        try:
            written = await write(key, how, note)
        except ApiError as error:
            self.notify(f"{key}: {error.detail}", title=error.title, severity="error")
            return
        self.seen = max(self.seen, written.position or 0)
        self.notify(said, timeout=3)
        self.load()

    def action_refresh(self) -> None:
        self.load(with_teams=True)

    def live_reload(self) -> None:
        self.load()
