"""NPS: figures with their margin, the why behind them, and the detractor follow-up loop
(definitions: docs/metrics.md)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from projections import nps
from projections.cache import this_minute
from server.auth import ANYONE
from server.dependencies import Reader, answers
from server.metrics import Customer, From, Segment, Team, To, moment

Text = Annotated[str | None, QueryParameter(description="Exact value (any case).")]
GroupBy = Annotated[
    str | None,
    QueryParameter(
        description=(
            f"One of {', '.join(nps.DIMENSIONS)}, or two joined by a comma (team,week). "
            "A period (week, month) answers a series with empty periods present."
        )
    ),
]


def _selection(
    start: str | None,
    end: str | None,
    team: str | None,
    touchpoint: str | None,
    channel: str | None,
    segment: str | None,
    customer: str | None,
    outcome: str | None,
) -> nps.Selection:
    return nps.Selection(
        start=moment("from", start),
        end=moment("to", end),
        team=team,
        touchpoint=touchpoint,
        channel=channel,
        segment=segment,
        customer=customer,
        outcome=outcome,
    )


class NpsController(Controller):
    path = "/api/metrics/nps"
    tags = ["metrics"]
    guards = [ANYONE]

    @get(
        operation_id="getNps",
        responses=answers(nps.Nps),
        summary="NPS with its 95 % margin",
        description=(
            "Responses (one per feedback item carrying a score, duplicates included), "
            "promoters (9-10), passives (7-8), detractors (0-6), NPS (-100..100) and its 95 % "
            "margin of error in points, for the responses received in [`from`, `to`), in one "
            "group `{}` or per `group_by`."
        ),
    )
    async def figures(
        self,
        reader: NamedDependency[Reader],
        start: From = None,
        end: To = None,
        team: Team = None,
        touchpoint: Text = None,
        channel: Text = None,
        segment: Segment = None,
        customer: Customer = None,
        outcome: Annotated[str | None, QueryParameter(description="An outcome's id.")] = None,
        group_by: GroupBy = None,
    ) -> Response[bytes]:
        selection = _selection(start, end, team, touchpoint, channel, segment, customer, outcome)
        now = this_minute()
        return await reader.json(
            nps.READS,
            ("nps", selection, group_by, now),
            lambda conn: nps.nps(conn, selection, group_by=group_by, now=now),
        )

    @get(
        "/why",
        operation_id="getNpsWhy",
        responses=answers(nps.NpsWhy),
        summary="Why: the themes behind the score",
        description=(
            "For the same selection as the NPS: the tags given at triage with their counts "
            "among detractors, passives and promoters, and the words that most mark "
            "detractors' whys against promoters' (and the reverse), ranked by a log-odds "
            "ratio with an informative Dirichlet prior (z-score), each with example item keys."
        ),
    )
    async def why(
        self,
        reader: NamedDependency[Reader],
        start: From = None,
        end: To = None,
        team: Team = None,
        touchpoint: Text = None,
        channel: Text = None,
        segment: Segment = None,
        customer: Customer = None,
        outcome: Annotated[str | None, QueryParameter(description="An outcome's id.")] = None,
        limit: Annotated[
            int, QueryParameter(ge=1, le=nps.MAX_TERMS, description="Terms per side.")
        ] = 10,
    ) -> Response[bytes]:
        selection = _selection(start, end, team, touchpoint, channel, segment, customer, outcome)
        return await reader.json(
            nps.READS,
            ("nps-why", selection, limit),
            lambda conn: nps.why(conn, selection, limit=limit),
        )

    @get(
        "/follow-ups",
        operation_id="getNpsFollowUpQueue",
        responses=answers(nps.FollowUpQueue),
        summary="Detractors waiting for a follow-up",
        description=(
            "Detractors (0-6) whose loop is not closed yet, oldest first: the queue of "
            "customers owed a call back. Closing the loop on the item (or, for a duplicate, "
            "on its original) is the follow-up. `team` gives one team's queue."
        ),
    )
    async def follow_up_queue(
        self,
        reader: NamedDependency[Reader],
        start: From = None,
        end: To = None,
        team: Team = None,
        touchpoint: Text = None,
        channel: Text = None,
        segment: Segment = None,
        customer: Customer = None,
        outcome: Annotated[str | None, QueryParameter(description="An outcome's id.")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500, description="At most this many.")] = 50,
    ) -> Response[bytes]:
        selection = _selection(start, end, team, touchpoint, channel, segment, customer, outcome)
        now = this_minute()
        return await reader.json(
            nps.READS,
            ("nps-queue", selection, limit, now),
            lambda conn: nps.follow_up_queue(conn, selection, limit=limit, now=now),
        )

    @get(
        "/follow-up-time",
        operation_id="getNpsFollowUpTime",
        responses=answers(nps.FollowUps),
        summary="Time to follow up detractors",
        description=(
            "For the detractors received in [`from`, `to`): how many were followed up, the "
            "seconds from their answer to the follow-up (count, mean, p50, p85), and the share "
            "followed up within 48 hours of those whose 48 hours are over; in one group `{}` "
            "or per `group_by` (team,week: per team and week)."
        ),
    )
    async def follow_up_time(
        self,
        reader: NamedDependency[Reader],
        start: From = None,
        end: To = None,
        team: Team = None,
        touchpoint: Text = None,
        channel: Text = None,
        segment: Segment = None,
        customer: Customer = None,
        outcome: Annotated[str | None, QueryParameter(description="An outcome's id.")] = None,
        group_by: GroupBy = None,
    ) -> Response[bytes]:
        selection = _selection(start, end, team, touchpoint, channel, segment, customer, outcome)
        now = this_minute()
        return await reader.json(
            nps.READS,
            ("nps-follow-up", selection, group_by, now),
            lambda conn: nps.follow_ups(conn, selection, group_by=group_by, now=now),
        )
