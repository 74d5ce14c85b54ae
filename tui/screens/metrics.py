"""Metrics: feedback lead-time percentiles per team, their weekly trend, and DORA tiles,
over a window chosen on screen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Select, Static
from textual_plotext import PlotextPlot

from tui.client import ApiClient, ApiError, Dora, LeadTimes, Team
from tui.formatting import TIER_STYLE, duration
from tui.keys import Section, bind
from tui.screens.live import LiveScreen
from tui.widgets.fit_table import FitTable
from tui.widgets.window import WindowPicker

MEASURES = (
    ("triage", "time to triage"),
    ("decision", "time to decision"),
    ("ship", "time to ship"),
    ("close_loop", "time to close the loop"),
    ("open_age", "open age"),
)
ALL = "all"


PER_TEAM = (
    ("team", "Team"),
    ("n", "n"),
    ("p50", "p50"),
    ("p75", "p75"),
    ("p85", "p85"),
    ("p95", "p95"),
)


class MetricsLoaded(Message):
    def __init__(
        self,
        per_team: LeadTimes,
        weekly: LeadTimes,
        dora: Dora,
        teams: list[Team] | None,
        span: tuple[datetime, datetime],
    ) -> None:
        super().__init__()
        self.span = span
        self.per_team = per_team
        self.weekly = weekly
        self.dora = dora
        self.teams = teams


TITLES = ("Deploys", "Lead time", "Failures", "Recovery")


def tile(title: str, value: str, note: str, tier: str | None) -> str:
    style = TIER_STYLE.get(tier or "", "dim")
    return f"[b]{title}[/b]\n[b]{value}[/b] {note}\n[{style}]{tier or 'no tier'}[/]"


def tiles(dora: Dora) -> list[str]:
    f, lt, cfr, rt = (
        dora.deployment_frequency,
        dora.lead_time_for_changes,
        dora.change_failure_rate,
        dora.recovery_time,
    )
    per_week = "—" if f.per_week is None else f"{f.per_week:.1f}"
    rate = "—" if cfr.rate is None else f"{100 * cfr.rate:.1f}%"
    return [
        tile(TITLES[0], per_week, "/week", f.tier),
        tile(TITLES[1], duration(lt.p50), "p50", lt.tier),
        tile(TITLES[2], rate, f"{cfr.failed}/{cfr.deployments}", cfr.tier),
        tile(TITLES[3], duration(rt.p50), "p50", rt.tier),
    ]


def tier_notes(dora: Dora) -> str:
    """Why a measure has no tier (the server says: no data, or too small a sample)."""
    judged = (
        (dora.deployment_frequency.tier, dora.deployment_frequency.tier_reason),
        (dora.lead_time_for_changes.tier, dora.lead_time_for_changes.tier_reason),
        (dora.change_failure_rate.tier, dora.change_failure_rate.tier_reason),
        (dora.recovery_time.tier, dora.recovery_time.tier_reason),
    )
    return "\n".join(
        f"{title}: {reason}"
        for title, (tier, reason) in zip(TITLES, judged, strict=True)
        if tier is None and reason
    )


class MetricsScreen(LiveScreen):
    CSS_PATH = "metrics.tcss"
    FOLLOWS = frozenset({"Feedback", "Increment", "Incident", "Team"})
    BINDINGS = [
        bind(
            "r",
            "refresh",
            "Refresh",
            "Load the metrics again",
            id="metrics.refresh",
            section=Section.VIEW,
        )
    ]

    def __init__(self, client: ApiClient, clock: Callable[[], datetime]) -> None:
        super().__init__(id="metrics")
        self.client = client
        self.clock = clock
        self.measure = "ship"
        self.team: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="metric-filters"):
            yield Select[str](
                [(label, m) for m, label in MEASURES],
                value=self.measure,
                allow_blank=False,
                compact=True,
                id="measure",
            )
            yield Select[str](
                [("all teams", ALL)], value=ALL, allow_blank=False, compact=True, id="team"
            )
            yield WindowPicker(id="window")
        with Horizontal(id="tiles"):
            for n in range(4):
                yield Static("", classes="tile", id=f"tile-{n}")
        yield Static("", id="tier-notes")
        with Horizontal(id="lead"):
            yield FitTable(PER_TEAM, id="per-team", zebra_stripes=False)
            with Vertical(id="trend-box"):
                yield PlotextPlot(id="trend")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#per-team", FitTable).focus()
        self.load(with_teams=True)

    @work(exclusive=True, group="metrics")
    async def load(self, with_teams: bool = False) -> None:
        try:
            start, end = self.query_one(WindowPicker).window.span(self.clock())
            after = self.after
            teams = await self.client.teams(after=after) if with_teams else None
            per_team = await self.client.lead_time(
                self.measure, group_by="team", team=self.team, start=start, end=end, after=after
            )
            weekly = await self.client.lead_time(
                self.measure, group_by="week", team=self.team, start=start, end=end, after=after
            )
            dora = await self.client.dora(self.team, start=start, end=end, after=after)
        except ApiError as error:
            self.notify(error.detail, title="Metrics", severity="error")
            return
        self.post_message(MetricsLoaded(per_team, weekly, dora, teams, (start, end)))

    def on_metrics_loaded(self, message: MetricsLoaded) -> None:
        if message.teams is not None:
            self.query_one("#team", Select).set_options(
                [("all teams", ALL), *((t.slug, t.slug) for t in message.teams)]
            )
        self.query_one(WindowPicker).show(message.span)
        table = self.query_one("#per-team", FitTable)
        table.fill(
            (
                str(n),
                (
                    g.group.get("label") or g.group.get("team") or "no team",
                    str(g.count),
                    duration(g.p50),
                    duration(g.p75),
                    duration(g.p85),
                    duration(g.p95),
                ),
            )
            for n, g in enumerate(message.per_team.groups)
        )
        # As wide as its figures, so the chart beside it starts after the last column.
        table.styles.width = table.natural_width()
        weeks = [g for g in message.weekly.groups if g.group.get("week") and g.p50 is not None]
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        label = dict(MEASURES)[self.measure]
        plt.title(f"{label}, p50 and p85 by week (days)")
        if weeks:
            xs = [float(n) for n in range(len(weeks))]
            plt.plot(xs, [(g.p50 or 0) / 86400 for g in weeks], label="p50", marker="braille")
            plt.plot(xs, [(g.p85 or 0) / 86400 for g in weeks], label="p85", marker="braille")
            step = max(1, len(weeks) // 4)
            plt.xticks(xs[::step], [str(g.group.get("week"))[5:] for g in weeks[::step]])
        plot.refresh()
        for n, text in enumerate(tiles(message.dora)):
            self.query_one(f"#tile-{n}", Static).update(text)
        notes = self.query_one("#tier-notes", Static)
        notes.update(tier_notes(message.dora))
        notes.display = bool(tier_notes(message.dora))

    def on_window_picker_changed(self, message: WindowPicker.Changed) -> None:
        self.load()

    @on(Select.Changed)
    def changed(self, event: Select.Changed) -> None:
        value = str(event.value)
        if event.select.id == "measure" and value != self.measure:
            self.measure = value
            self.load()
        elif event.select.id == "team":
            team = None if value == ALL else value
            if team != self.team:
                self.team = team
                self.load()

    def action_refresh(self) -> None:
        self.load(with_teams=True)

    def live_reload(self) -> None:
        self.load()
