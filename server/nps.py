"""NPS: figures with their margin, the why behind them, and the detractor follow-up loop
(definitions: docs/metrics.md)."""

from __future__ import annotations

from enum import StrEnum
from itertools import permutations
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from projections import nps
from projections.cache import this_minute
from projections.paging import InvalidQuery
from server.dependencies import Reader, answers
from server.metrics import ChannelFilter, Customer, From, Outcome, Segment, Team, To, moment

Text = Annotated[str | None, QueryParameter(description="Exact value (any case).")]


def _groupings() -> list[str]:
    """Every `group_by` the NPS questions answer, as the projection's rule decides: one
    dimension, or two different ones of which at most one is a period (`team,week`)."""
    candidates = [(d,) for d in nps.DIMENSIONS] + list(permutations(nps.DIMENSIONS, 2))
    found = []
    for chosen in candidates:
        try:
            nps.dimensions(chosen)
        except InvalidQuery:
            continue
        found.append(",".join(chosen))
    return found


# Built from the rule, so its members are not literals mypy can read.
NpsGrouping = StrEnum(  # type: ignore[misc]
    "NpsGrouping", [(g.upper().replace(",", "_"), g) for g in _groupings()]
)
GroupBy = Annotated[
    NpsGrouping | None,
    QueryParameter(
        description=(
            "One dimension, or two joined by a comma (team,week), at most one of them a "
            "period (week, month): a period answers a series with empty periods present."
        )
    ),
]


def provide_selection(
    start: From = None,
    end: To = None,
    team: Team = None,
    touchpoint: Text = None,
    channel: ChannelFilter = None,
    segment: Segment = None,
    customer: Customer = None,
    outcome: Outcome = None,
) -> nps.Selection:
    """The responses a question is about, from the filters every NPS operation takes."""
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
    dependencies = {"selection": Provide(provide_selection, sync_to_thread=False)}

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
        selection: NamedDependency[nps.Selection],
        group_by: GroupBy = None,
    ) -> Response[bytes]:
        now = this_minute()
        return await reader.answer(nps.nps, selection, group_by=group_by, now=now)

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
        selection: NamedDependency[nps.Selection],
        limit: Annotated[
            int, QueryParameter(ge=1, le=nps.MAX_TERMS, description="Terms per side.")
        ] = 10,
    ) -> Response[bytes]:
        return await reader.answer(nps.why, selection, limit=limit)

    @get(
        "/follow-ups",
        operation_id="getNpsFollowUpQueue",
        responses=answers(nps.FollowUpQueue),
        summary="Detractors waiting for a follow-up",
        description=(
            "Detractors (0-6) nobody has contacted yet, oldest first: the queue of customers "
            "owed a call back. A follow-up recorded on the item "
            "(`POST /api/feedback/{key}/follow-up`), or its loop closed (for a duplicate, "
            "its original's), is the follow-up. `team` gives one team's queue."
        ),
    )
    async def follow_up_queue(
        self,
        reader: NamedDependency[Reader],
        selection: NamedDependency[nps.Selection],
        limit: Annotated[int, QueryParameter(ge=1, le=500, description="At most this many.")] = 50,
    ) -> Response[bytes]:
        now = this_minute()
        return await reader.answer(nps.follow_up_queue, selection, limit=limit, now=now)

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
        selection: NamedDependency[nps.Selection],
        group_by: GroupBy = None,
    ) -> Response[bytes]:
        now = this_minute()
        return await reader.answer(nps.follow_ups, selection, group_by=group_by, now=now)
