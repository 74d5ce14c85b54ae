"""`loopline report`: one self-contained HTML file to share the loop with others.

Feedback lead times with their weekly series, DORA tiles with tiers and weekly series, NPS
with its trend and why-themes, the ranked backlog's top ten and the outcome scorecards. The
figures are the API's own (the same projection queries, with the same window defaults), and
they travel inside the file as JSON (`<script id="loopline-figures">`) beside the charts
drawn from them: inline SVG, no script, no font or style from the network, readable printed.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from infra.database import Connection, create_pool, database_url
from infra.settings import load_settings
from loopline.importing import prepare
from projections import metrics, series
from projections import nps as nps_read
from projections.backlog import BacklogDecision, backlog
from projections.cache import this_minute
from projections.catalog import all_projections
from projections.directory import get_team_item, list_teams
from projections.runner import ProjectionRunner
from projections.worker import build_runner

#: The lead-time measures the report shows; open age is a snapshot at now (no series).
MEASURES = ("triage", "decision", "ship", "close_loop")
TOP = 10
NONE = "\N{EN DASH}"
"""Shown where a figure is null."""


class ReportFigures(msgspec.Struct, kw_only=True):
    """Everything the report shows, as the API answers it."""

    generated_at: datetime
    team: str | None
    window: metrics.Window
    lead_times: dict[str, metrics.LeadTimes]
    lead_time_series: dict[str, series.LeadTimeSeries]
    open_age: metrics.LeadTimes
    dora: metrics.Dora
    dora_series: series.DoraSeries
    nps: nps_read.Nps
    nps_trend: nps_read.Nps
    nps_why: nps_read.NpsWhy
    backlog: list[BacklogDecision]
    outcomes: list[metrics.OutcomeScorecard]


async def gather(
    conn: Connection,
    *,
    team: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> ReportFigures:
    """The report's figures over [start, end) (default: the last 12 weeks, as DORA)."""
    now = now or this_minute()
    since, until, note = series.default_window(start, end, now)
    lead = {
        m: await metrics.lead_times(conn, m, team=team, start=since, end=end, now=now)
        for m in MEASURES
    }
    trends = {
        m: await series.lead_time_series(conn, m, "week", team=team, start=since, end=end, now=now)
        for m in MEASURES
    }
    selection = nps_read.Selection(start=since, end=end, team=team)
    decisions = await backlog(conn, team)
    return ReportFigures(
        generated_at=now,
        team=team,
        window=metrics.Window(start=since, end=until, default=note),
        lead_times=lead,
        lead_time_series=trends,
        open_age=await metrics.lead_times(conn, "open_age", team=team, now=now),
        dora=await series.dora_window(conn, team=team, start=since, end=end, now=now),
        dora_series=await series.dora_series(
            conn, "week", team=team, start=since, end=end, now=now
        ),
        nps=await nps_read.nps(conn, selection, now=now),
        nps_trend=await nps_read.nps(conn, selection, group_by="week", now=now),
        nps_why=await nps_read.why(conn, selection, limit=5),
        backlog=decisions[:TOP],
        outcomes=await metrics.outcome_scorecards(conn),
    )


# --- rendering --------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """A duration as people read it: 45 min, 5.2 h, 3.1 d."""
    if seconds is None:
        return NONE
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _e(value: object) -> str:
    return html.escape(str(value))


def bar_chart(
    title: str,
    points: Sequence[tuple[str, float | None]],
    label: Callable[[float], str],
    *,
    width: int = 520,
    height: int = 150,
) -> str:
    """An inline SVG bar chart, one bar per period from the zero line (a gap where the
    figure is null); negative values hang below it."""
    values = [v for _, v in points if v is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    left, bottom, top_pad, gap = 8, 28, 16, 4
    inner = height - bottom - top_pad
    zero = top_pad + inner * high / span
    step = (width - 2 * left) / max(len(points), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{zero:.1f}" x2="{width - left}" y2="{zero:.1f}" class="axis"/>',
    ]
    for n, (period, value) in enumerate(points):
        x = left + n * step + gap / 2
        if value is not None:
            h = max(inner * abs(value) / span, 1.0)
            y = zero - h if value >= 0 else zero
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - gap:.1f}" height="{h:.1f}">'
                f"<title>{_e(period)}: {_e(label(value))}</title></rect>"
            )
            if len(points) <= 16:
                ty = y - 3 if value >= 0 else y + h + 10
                parts.append(
                    f'<text x="{x + (step - gap) / 2:.1f}" y="{ty:.1f}" class="value">'
                    f"{_e(label(value))}</text>"
                )
        if n % max(1, len(points) // 6) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" class="tick">{_e(period[5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _figure(caption: str, chart: str) -> str:
    return f"<figure><figcaption>{_e(caption)}</figcaption>{chart}</figure>"


def _tile(name: str, value: str, tier: str | None, reason: str | None, detail: str) -> str:
    tier_text = tier or "no tier"
    why = f'<div class="reason">{_e(reason)}</div>' if tier is None and reason else ""
    return (
        f'<div class="tile tier-{_e(tier or "none")}"><div class="name">{_e(name)}</div>'
        f'<div class="value">{_e(value)}</div><div class="tier">{_e(tier_text)}</div>'
        f'<div class="detail">{_e(detail)}</div>{why}</div>'
    )


def _dora_section(f: ReportFigures) -> str:
    d = f.dora
    df, lt, cfr, rv = (
        d.deployment_frequency,
        d.lead_time_for_changes,
        d.change_failure_rate,
        d.recovery_time,
    )
    rate = NONE if cfr.rate is None else f"{100 * cfr.rate:.0f} %"
    per_week = NONE if df.per_week is None else f"{df.per_week:.1f} / week"
    tiles = "".join(
        (
            _tile(
                "Deployment frequency",
                per_week,
                df.tier,
                df.tier_reason,
                f"{df.deployments} deployments on {df.deployment_days} days",
            ),
            _tile(
                "Lead time for changes",
                duration(lt.p50),
                lt.tier,
                lt.tier_reason,
                f"median of {lt.count} commits; p85 {duration(lt.p85)}",
            ),
            _tile(
                "Change failure rate",
                rate,
                cfr.tier,
                cfr.tier_reason,
                f"{cfr.failed} of {cfr.deployments} deployments",
            ),
            _tile(
                "Failed deployment recovery",
                duration(rv.p50),
                rv.tier,
                rv.tier_reason,
                f"median of {rv.count} recoveries",
            ),
        )
    )
    periods = f.dora_series.periods
    charts = (
        _figure(
            "Deployments per week",
            bar_chart(
                "Deployments per week",
                [(p.period, float(p.deployment_frequency.deployments)) for p in periods],
                lambda v: f"{v:.0f}",
            ),
        )
        + _figure(
            "Median lead time for changes per week",
            bar_chart(
                "Median lead time for changes per week",
                [(p.period, p.lead_time_for_changes.p50) for p in periods],
                duration,
            ),
        )
        + _figure(
            "Change failure rate per week",
            bar_chart(
                "Change failure rate per week",
                [(p.period, p.change_failure_rate.rate) for p in periods],
                lambda v: f"{100 * v:.0f}%",
            ),
        )
    )
    return (
        f"<section><h2>Delivery (DORA, {_e(d.benchmarks)} benchmarks)</h2>"
        f'<div class="tiles">{tiles}</div><div class="charts">{charts}</div></section>'
    )


def _lead_section(f: ReportFigures) -> str:
    rows = []
    for measure, answer in (*f.lead_times.items(), ("open_age", f.open_age)):
        [g] = answer.groups
        rows.append(
            f"<tr><td>{_e(measure.replace('_', ' '))}</td><td>{g.count}</td>"
            f"<td>{duration(g.p50)}</td><td>{duration(g.p85)}</td><td>{duration(g.p95)}</td></tr>"
        )
    charts = "".join(
        _figure(
            f"Time to {measure.replace('_', ' ')}, median per week",
            bar_chart(
                f"time to {measure} per week",
                [(p.period, p.groups[0].p50 if p.groups else None) for p in trend.periods],
                duration,
            ),
        )
        for measure, trend in f.lead_time_series.items()
    )
    return (
        "<section><h2>Feedback lead times</h2>"
        "<p>From the customer's first ask to each milestone (open age: items not yet "
        "resolved, as of now).</p>"
        "<table><thead><tr><th>measure</th><th>items</th><th>p50</th><th>p85</th><th>p95</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<div class="charts">{charts}</div></section>'
    )


def _nps_section(f: ReportFigures) -> str:
    [overall] = f.nps.groups
    score = NONE if overall.nps is None else f"{overall.nps:+.0f}"
    margin = "" if overall.margin is None else f" ± {overall.margin:.0f}"
    trend = bar_chart(
        "NPS per week",
        [(g.group.get("week") or "", g.nps) for g in f.nps_trend.groups],
        lambda v: f"{v:+.0f}",
    )
    tags = "".join(
        f"<li>{_e(t.tag)}: {t.detractors} detractors, {t.promoters} promoters</li>"
        for t in f.nps_why.tags[:5]
    )
    nothing = f"<li>{NONE}</li>"
    terms = "".join(
        f"<li>“{_e(t.term)}” ({t.detractors} detractors, {t.promoters} promoters)</li>"
        for t in f.nps_why.detractor_terms[:5]
    )
    return (
        "<section><h2>NPS and its why</h2>"
        f'<div class="tiles"><div class="tile"><div class="name">NPS</div>'
        f'<div class="value">{_e(score)}{_e(margin)}</div>'
        f'<div class="detail">{overall.responses} responses: {overall.promoters} promoters, '
        f"{overall.passives} passives, {overall.detractors} detractors</div></div></div>"
        + _figure("NPS per week", trend)
        + f'<div class="columns"><div><h3>Tags behind the scores</h3><ul>{tags or nothing}'
        f"</ul></div><div><h3>Words that mark detractors</h3><ul>{terms or nothing}</ul>"
        "</div></div></section>"
    )


def _backlog_section(f: ReportFigures) -> str:
    rows = "".join(
        f"<tr><td>{d.rank if d.rank is not None else NONE}</td><td>{_e(d.key)}</td>"
        f"<td>{_e(d.title)}</td><td>{_e(d.team or '')}</td><td>{_e(d.status)}</td>"
        f"<td>{d.demand}</td><td>{d.customers}</td><td>{d.detractors}</td></tr>"
        for d in f.backlog
    )
    return (
        f"<section><h2>Ranked backlog, top {TOP}</h2><table><thead><tr><th>rank</th>"
        "<th>key</th><th>decision</th><th>team</th><th>status</th><th>demand</th>"
        f"<th>customers</th><th>detractors</th></tr></thead><tbody>{rows}</tbody></table>"
        "</section>"
    )


def _outcomes_section(f: ReportFigures) -> str:
    rows = "".join(
        f"<tr><td>{_e(o.statement)}</td><td>{_e(', '.join(t.slug for t in o.teams))}</td>"
        f"<td>{o.items}</td><td>{o.demand}</td><td>{o.open_items}</td>"
        f"<td>{NONE if o.nps is None else f'{o.nps:+.0f}'}</td>"
        f"<td>{duration(o.time_to_ship.p50)}</td></tr>"
        for o in f.outcomes
    )
    return (
        "<section><h2>Outcomes</h2><table><thead><tr><th>outcome</th><th>teams</th>"
        "<th>items</th><th>demand</th><th>open</th><th>NPS</th><th>time to ship (p50)</th>"
        "</tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1d2330; margin: 2rem auto;
       max-width: 1120px; padding: 0 1rem; }
h1 { margin-bottom: 0; } .sub { color: #5b6475; margin-top: .2rem; }
section { margin: 2rem 0; break-inside: avoid; }
h2 { border-bottom: 2px solid #1d2330; padding-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #d8dce4; }
.tiles { display: flex; flex-wrap: wrap; gap: .8rem; }
.tile { border: 1px solid #c5cad6; border-left: 6px solid #8c94a6; padding: .6rem .8rem;
        min-width: 220px; flex: 1; }
.tile .name { font-weight: 600; } .tile .value { font-size: 1.6rem; }
.tile .detail, .tile .reason { color: #5b6475; font-size: .85rem; }
.tier-elite { border-left-color: #1a7f37; } .tier-high { border-left-color: #4c8c2b; }
.tier-medium { border-left-color: #bf8700; } .tier-low { border-left-color: #cf222e; }
.tile .tier { text-transform: uppercase; font-size: .8rem; letter-spacing: .05em; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: .5rem 0; } figcaption { font-weight: 600; font-size: .9rem; }
.chart rect { fill: #3b6bc9; } .chart .axis { stroke: #8c94a6; }
.chart text { font-size: 10px; fill: #3d4455; } .chart .value { text-anchor: middle; }
.columns { display: flex; gap: 2rem; } .columns > div { flex: 1; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  .chart rect { fill: #555; }
  section { page-break-inside: avoid; }
}
"""


def render(f: ReportFigures) -> str:
    """The whole report as one HTML document (no external resource)."""
    figures = msgspec.json.encode(f).decode().replace("</", "<\\/")
    scope = f"team {f.team}" if f.team else "all teams"
    start = f.window.start.date().isoformat() if f.window.start else "the beginning"
    end = f.window.end.date().isoformat() if f.window.end else "now"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Loopline report: {_e(scope)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>The loop: {_e(scope)}</h1>"
        f'<p class="sub">From {_e(start)} to {_e(end)}'
        f"{', ' + _e(f.window.default) if f.window.default else ''}; generated "
        f"{_e(f.generated_at.isoformat(timespec='minutes'))}. Definitions: docs/metrics.md.</p>"
        + _lead_section(f)
        + _dora_section(f)
        + _nps_section(f)
        + _backlog_section(f)
        + _outcomes_section(f)
        + f'<script type="application/json" id="loopline-figures">{figures}</script>'
        "</body></html>"
    )


# --- the command ------------------------------------------------------------------------


def _when(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=option) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter("needs an offset, e.g. 2026-03-01T00:00:00Z", param_hint=option)
    return parsed


async def catch_up(runner: ProjectionRunner) -> None:
    """Bring the read models up to every event recorded so far; one whose lease a running
    worker (`loopline up`, `serve`, `project`) holds is kept current by that worker."""
    for name in runner.projections:
        try:
            await runner.catch_up([name], wait_for_lease=1.0)
        except TimeoutError:
            continue


def report(
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")],
    team: Annotated[str | None, typer.Option(help="A team's slug (default: all).")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Inclusive start (default: 12 weeks ago).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Exclusive end (default: now).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where `up` keeps its data (embedded database).")
    ] = None,
) -> None:
    """Write one self-contained HTML report: lead times, DORA, NPS, backlog, outcomes."""
    since, until = _when("--from", start), _when("--to", end)
    settings = load_settings(data_dir=data_dir)
    dsn = database_url(settings)

    async def main() -> ReportFigures:
        await prepare(settings, dsn)
        pool = await create_pool(settings, dsn)
        try:
            await catch_up(build_runner(settings, dsn, pool, all_projections()))
            async with pool.acquire() as conn:
                # A mistyped team would match nothing and write a report of zeros.
                if team is not None and await get_team_item(conn, team) is None:
                    known = ", ".join(t.slug for t in await list_teams(conn)) or "none yet"
                    raise typer.BadParameter(
                        f"no team {team!r} (teams: {known})", param_hint="--team"
                    )
                return await gather(conn, team=team, start=since, end=until)
        finally:
            await pool.close()

    figures = asyncio.run(main())
    output.write_text(render(figures), encoding="utf-8")
    typer.echo(f"report: wrote {output}")


def figures_of(document: str) -> dict[str, Any]:
    """The figures a report carries (what a test compares with the API)."""
    marker = '<script type="application/json" id="loopline-figures">'
    raw = document.split(marker, 1)[1].split("</script>", 1)[0].replace("<\\/", "</")
    found: dict[str, Any] = msgspec.json.decode(raw)
    return found
