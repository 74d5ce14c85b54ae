"""Metrics: feedback lead times, DORA, outcome scorecards (definitions: docs/metrics.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from domain.vocabulary import Channel
from projections import changes, metrics, series
from projections.cache import this_minute
from projections.paging import InvalidQuery
from server.dependencies import Reader, answers
from server.strict import query_time

# `from` is a Python keyword; the handlers take text and parse it, so that a bad value is
# a 400 naming `from` (Litestar would name the Python parameter instead).
From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        description="Inclusive start (RFC 3339 with offset); without it, from the beginning.",
        schema_extra={"format": "date-time"},
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        name="to",
        description="Exclusive end (RFC 3339 with offset); without it, up to now.",
        schema_extra={"format": "date-time"},
    ),
]
Team = Annotated[str | None, QueryParameter(description="A team's slug or id.")]
ChannelFilter = Annotated[Channel | None, QueryParameter(description="A channel.")]
Outcome = Annotated[str | None, QueryParameter(description="An outcome's id.")]
Interval = Annotated[
    Literal["week", "month"] | None,
    QueryParameter(
        description=(
            "A series per calendar week (Monday, UTC) or month instead of one answer: every "
            "period of the window, empty ones with null figures."
        )
    ),
]
Benchmarks = Annotated[
    Literal["2023", "2021"],
    QueryParameter(description="Which DORA report's tier table to judge by."),
]
Segment = Annotated[
    str | None, QueryParameter(description="The asking customer's segment (any case).")
]
Customer = Annotated[
    str | None,
    QueryParameter(description="A customer reference: items they asked, duplicates included."),
]


def moment(field: str, value: str | None) -> datetime | None:
    """The time in a `from`/`to` parameter; a 400 naming it when it is not one."""
    if value is None:
        return None
    when = query_time(field, value, datetime)
    if when.tzinfo is None:
        raise InvalidQuery(field, "must carry an offset, e.g. 2024-06-01T00:00:00+02:00")
    return when


class MetricsController(Controller):
    path = "/api/metrics"
    tags = ["metrics"]

    @get(
        "/lead-time",
        operation_id="getLeadTimes",
        responses=answers(metrics.LeadTimes | series.LeadTimeSeries),
        summary="Feedback lead times",
        description=(
            "Seconds from the first ask to the `measure`: triage, decision, ship, close_loop, "
            "or open_age (items not yet resolved, as of now). count, mean and interpolated "
            "p50/p75/p85/p95, in one group `{}` or per `group_by` (team, channel, touchpoint, "
            "outcome, week). `from`/`to` select spans by when they ended. `interval` gives a "
            "series per week or month (without `from`, the last 12 weeks)."
        ),
    )
    async def lead_time(
        self,
        reader: NamedDependency[Reader],
        measure: Annotated[metrics.Measure, QueryParameter(description="What ends the span.")],
        team: Team = None,
        channel: ChannelFilter = None,
        touchpoint: Annotated[str | None, QueryParameter(description="A touchpoint.")] = None,
        outcome: Outcome = None,
        start: From = None,
        end: To = None,
        group_by: Annotated[
            metrics.Grouping | None, QueryParameter(description="Answer a group per value.")
        ] = None,
        interval: Interval = None,
        segment: Segment = None,
        customer: Customer = None,
    ) -> Response[bytes]:
        window = moment("from", start), moment("to", end)
        # The one question, asked as a series or as a single answer.
        question: dict[str, Any] = {
            "team": team,
            "channel": channel,
            "touchpoint": touchpoint,
            "outcome": outcome,
            "start": window[0],
            "end": window[1],
            "group_by": group_by,
            "now": this_minute(),
            "segment": segment,
            "customer": customer,
        }
        if interval is not None:
            return await reader.answer(series.lead_time_series, measure, interval, **question)
        return await reader.answer(metrics.lead_times, measure, **question)

    @get(
        "/dora",
        operation_id="getDora",
        responses=answers(metrics.Dora | series.DoraSeries),
        summary="DORA measures",
        description=(
            "Deployment frequency, lead time for changes, change failure rate, failed "
            "deployment recovery time and time to restore, each with its tier (elite, high, "
            "medium, low; null with `tier_reason` without data or below the minimum sample) "
            "by the `benchmarks` year's table, for a team's services, one service, or all. "
            "`from`/`to` select deployments by when they finished and incidents by when they "
            "opened; without them, the last 12 weeks (`window` says which). `interval` "
            "gives a series per week or month."
        ),
    )
    async def dora(
        self,
        reader: NamedDependency[Reader],
        team: Team = None,
        service: Annotated[str | None, QueryParameter(description="A service.")] = None,
        start: From = None,
        end: To = None,
        interval: Interval = None,
        benchmarks: Benchmarks = "2023",
    ) -> Response[bytes]:
        window = moment("from", start), moment("to", end)
        now = this_minute()
        if interval is not None:
            return await reader.answer(
                series.dora_series,
                interval,
                team=team,
                service=service,
                start=window[0],
                end=window[1],
                now=now,
                benchmarks=benchmarks,
            )
        return await reader.answer(
            series.dora_window,
            team=team,
            service=service,
            start=window[0],
            end=window[1],
            now=now,
            benchmarks=benchmarks,
        )

    @get(
        "/changes",
        operation_id="getChangeLeadTimes",
        responses=answers(changes.Changes),
        summary="Pull-request lead time: coding, review, deploy",
        description=(
            "Per change deployed in the window (by when it reached production): pull requests' "
            "coding (first commit to opened), review (opened to merged), deploy (merged to the "
            "first production deployment carrying the merge commit) and total time, and every "
            "commit's lead time (as DORA counts it, with or without a pull request); count, "
            "mean and p50/p75/p85/p95, in one group `{}` or per `group_by` (team, service). "
            "Without from/to, the last 12 weeks (`window` says which)."
        ),
    )
    async def changes(
        self,
        reader: NamedDependency[Reader],
        team: Team = None,
        service: Annotated[str | None, QueryParameter(description="A service.")] = None,
        start: From = None,
        end: To = None,
        group_by: Annotated[
            Literal["team", "service"] | None, QueryParameter(description="team or service.")
        ] = None,
    ) -> Response[bytes]:
        window = moment("from", start), moment("to", end)
        now = this_minute()
        since, until, note = series.default_window(window[0], window[1], now)
        return await reader.answer(
            changes.changes,
            team=team,
            service=service,
            start=since,
            end=window[1],  # up to now when not given, this minute's deployments included
            group_by=group_by,
            window=metrics.Window(start=since, end=until, default=note),
        )

    @get(
        "/outcomes",
        operation_id="getOutcomeScorecards",
        summary="Outcome scorecards",
        description=(
            "Per outcome: the items aligned to it and their demand (asks, customers, detractors), "
            "open items, NPS and time to ship."
        ),
    )
    async def outcomes(
        self,
        pool: NamedDependency[asyncpg.Pool],
        caught_up: NamedDependency[int | None],
        segment: Segment = None,
        customer: Customer = None,
    ) -> list[metrics.OutcomeScorecard]:
        async with pool.acquire() as conn:
            return await metrics.outcome_scorecards(conn, segment=segment, customer=customer)
