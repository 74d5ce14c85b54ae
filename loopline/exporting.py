"""`loopline export metrics|events`: figures for spreadsheets, the event log for audits."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Annotated, Any

import asyncpg
import msgspec
import typer

from infra.database import Connection, create_pool, database_url
from infra.settings import Settings, load_settings
from loopline import eventfile
from loopline.importing import DataDir, prepare
from projections.catalog import all_projections
from projections.directory import list_teams
from projections.metrics import MEASURES, dora, lead_times
from projections.runner import statuses
from projections.worker import build_runner

app = typer.Typer(
    help="Take data out of Loopline: metrics as CSV or JSON, the event log as JSON Lines.",
    no_args_is_help=True,
)


class ExportFailed(RuntimeError):
    """Raised when an export cannot be written (a bad output path, unbuilt read models)."""


Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
]

#: The columns of `export metrics --format csv`; lead-time and DORA rows share them.
CSV_COLUMNS = (
    "kind",
    "measure",
    "team",
    "week",
    "count",
    "mean",
    "p50",
    "p75",
    "p85",
    "p95",
    "value",
    "tier",
)


@contextmanager
def opened(output: Path | None) -> Iterator[IO[str]]:
    if output is None:
        yield sys.stdout
        return
    try:
        handle = output.open("w", encoding="utf-8", newline="")
    except OSError as error:
        raise ExportFailed(f"{output}: {error.strerror or error}") from None
    with handle:
        yield handle


# --- metrics ----------------------------------------------------------------------------


def monday(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


async def catch_up(settings: Settings, dsn: str, pool: asyncpg.Pool) -> None:
    """Bring the read models up to date here, unless a running worker holds them."""
    runner = build_runner(settings, dsn, pool, all_projections())
    try:
        await runner.catch_up(wait_for_lease=0.5)
    except TimeoutError:
        async with pool.acquire() as conn:
            lag = sum(s.lag for s in await statuses(conn, all_projections()))
        if lag:
            typer.echo(f"note: the projections are {lag} events behind", err=True)


async def metric_rows(conn: Connection, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Lead times per measure and DORA, per team and week (UTC Mondays), as plain rows."""
    teams = [t.slug for t in await list_teams(conn)]
    leads: list[dict[str, Any]] = []
    for team in teams:
        for measure in MEASURES:
            result = await lead_times(conn, measure, team=team, group_by="week", now=now)
            for group in result.groups:
                leads.append(
                    {
                        "measure": measure,
                        "team": team,
                        "week": group.group.get("week"),
                        "count": group.count,
                        "mean": group.mean,
                        "p50": group.p50,
                        "p75": group.p75,
                        "p85": group.p85,
                        "p95": group.p95,
                    }
                )
    first = await conn.fetchval("SELECT min(finished_at) FROM read.increments WHERE production")
    deliveries: list[dict[str, Any]] = []
    if first is not None:
        for team in teams:
            week = monday(first)
            while week <= now:
                end = week + timedelta(days=7)
                figures = await dora(conn, team=team, start=week, end=end, now=now)
                if figures.change_failure_rate.deployments or figures.time_to_restore.count:
                    deliveries.append(
                        {
                            "team": team,
                            "week": week.date().isoformat(),
                            **msgspec.to_builtins(figures),
                        }
                    )
                week = end
    return {"lead_times": leads, "dora": deliveries}


def dora_csv_rows(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
    base = {"kind": "dora", "team": row["team"], "week": row["week"]}
    frequency = row["deployment_frequency"]
    yield {**base, "measure": "deployment_frequency", "count": frequency["deployments"],
           "value": frequency["per_week"], "tier": frequency["tier"]}  # fmt: skip
    changes = row["lead_time_for_changes"]
    yield {**base, "measure": "lead_time_for_changes", "count": changes["count"],
           "mean": changes["mean"], "p50": changes["p50"], "p85": changes["p85"],
           "tier": changes["tier"]}  # fmt: skip
    failures = row["change_failure_rate"]
    yield {**base, "measure": "change_failure_rate", "count": failures["deployments"],
           "value": failures["rate"], "tier": failures["tier"]}  # fmt: skip
    for measure in ("recovery_time", "time_to_restore"):
        figures = row[measure]
        yield {**base, "measure": measure, "count": figures["count"], "mean": figures["mean"],
               "p50": figures["p50"], "tier": figures["tier"]}  # fmt: skip


def write_metrics(rows: dict[str, list[dict[str, Any]]], fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        body = {"unit": "seconds", **rows}
        out.write(json.dumps(body, indent=2) + "\n")
        return
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows["lead_times"]:
        writer.writerow({"kind": "lead_time", **row})
    for row in rows["dora"]:
        writer.writerows(dora_csv_rows(row))


async def export_metrics(settings: Settings, dsn: str) -> dict[str, list[dict[str, Any]]]:
    await prepare(settings, dsn)
    pool = await create_pool(settings, dsn)
    try:
        await catch_up(settings, dsn, pool)
        async with pool.acquire() as conn:
            return await metric_rows(conn, datetime.now(UTC))
    finally:
        await pool.close()


@app.command("metrics")
def metrics(
    format_: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Output = None,
    data_dir: DataDir = None,
) -> None:
    """Feedback lead times per measure and DORA, by team and week; durations in seconds.

    CSV has one row per (kind, measure, team, week): lead_time rows fill count, mean and
    the percentiles; dora rows fill what their measure has (deployment_frequency: count
    = deployments, value = per week; change_failure_rate: count = deployments, value =
    rate). JSON has the same figures as two lists, lead_times and dora.
    """
    if format_ not in ("csv", "json"):
        raise ExportFailed(f"unknown format {format_!r}; csv or json")
    settings = load_settings(data_dir=data_dir)
    rows = asyncio.run(export_metrics(settings, database_url(settings)))
    with opened(output) as out:
        write_metrics(rows, format_, out)


# --- events -----------------------------------------------------------------------------


@app.command("events")
def events(output: Output = None, data_dir: DataDir = None) -> None:
    """The whole event stream as JSON Lines (position, originator_id, originator_version,
    topic, state), in position order; `loopline import events` reads it back."""
    settings = load_settings(data_dir=data_dir)
    dsn = database_url(settings)
    with opened(output) as out:
        count = asyncio.run(eventfile.dump(settings, dsn, out))
    typer.echo(f"events: {count} exported", err=True)


EXPECTED_ERRORS = (ExportFailed,)
