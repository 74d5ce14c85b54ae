"""Decisions: propose, accept, decline, supersede, start and rank them; the ranked backlog."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, KwargDefinition, PathParameter, QueryParameter

from domain import services
from domain.access import Actor
from domain.services.views import DecisionView
from domain.vocabulary import DecisionStatus
from infra.eventstore import PostgresEventStore
from projections import backlog as backlog_read
from server.dependencies import Change
from server.history import HistoryEntry, history
from server.schemas import Schema, WriteResult, write_result

Key = Annotated[str, PathParameter(description="The decision's key (DEC-3) or id.")]
FeedbackKey = Annotated[str, PathParameter(description="The feedback item's key (FB-12) or id.")]


class DecisionCreate(Schema):
    team: str
    title: str
    rationale: str
    options: list[str] = msgspec.field(default_factory=list)
    outcome: UUID | None = None
    feedback: list[str] = msgspec.field(default_factory=list)


class DecisionDecline(Schema):
    rationale: str | None = None


class DecisionSupersede(Schema):
    by: str


class DecisionRank(Schema):
    position: Annotated[int, msgspec.Meta(ge=1, description="1 is the top of the backlog.")]


class DecisionDemand(Schema):
    """The demand behind a decision now, as the backlog counts it (docs/metrics.md)."""

    items: int
    demand: int
    customers: int
    detractors: int


class DecisionDetail(Schema):
    decision: Annotated[DecisionView, KwargDefinition(schema_component_key="Decision")]
    history: list[HistoryEntry]
    demand: DecisionDemand | None = None
    """Its demand now (null until the read models have the decision)."""


class DecisionController(Controller):
    path = "/api/decisions"
    tags = ["decisions"]

    @post(
        operation_id="proposeDecision",
        summary="Propose a decision",
        description=(
            "A product decision record for a team (slug or id): title, rationale, the options "
            "considered, the outcome it serves and the feedback (keys) it answers. Answers its "
            "`DEC-<n>` key; commits that name the key ship it. Members propose for their teams."
        ),
        status_code=201,
    )
    async def propose(
        self,
        data: JSONBody[DecisionCreate],
        store: NamedDependency[PostgresEventStore],
        actor: NamedDependency[Actor],
    ) -> WriteResult:
        written = await services.propose_decision(
            store,
            team=data.team,
            title=data.title,
            rationale=data.rationale,
            options=data.options,
            outcome_id=data.outcome,
            feedback=data.feedback,
            actor=actor,
        )
        return write_result(written)

    @get(
        operation_id="listDecisions",
        summary="The ranked backlog, with demand",
        description=(
            "Decisions ranked (rank ascending, unranked last, then by number), each with its "
            "demand: linked feedback, distinct customers, NPS detractors. By default the open "
            "ones (proposed, accepted, in progress)."
        ),
    )
    async def backlog(
        self,
        pool: NamedDependency[asyncpg.Pool],
        caught_up: NamedDependency[int | None],
        team: Annotated[
            str | None, QueryParameter(description="Only this team's (slug or id).")
        ] = None,
        status: Annotated[
            list[DecisionStatus] | None,
            QueryParameter(description="Only these statuses (repeatable)."),
        ] = None,
    ) -> list[backlog_read.BacklogDecision]:
        async with pool.acquire() as conn:
            return await backlog_read.backlog(
                conn, team, status=status if status else backlog_read.OPEN_DECISIONS
            )

    @get(
        "/{key:str}",
        operation_id="getDecision",
        summary="One decision with its history",
        description=(
            "`as_of` answers the decision as it stood in the world at that time (by when things "
            "happened: received, triaged, decided, shipped, told; corrections and what they "
            "cancel left out); `known_at` answers what Loopline had recorded by that time. "
            "Both together: what Loopline knew at `known_at` about the world at `as_of`. "
            "Before it existed: 404."
        ),
    )
    async def get_decision(
        self,
        key: Key,
        store: NamedDependency[PostgresEventStore],
        pool: NamedDependency[asyncpg.Pool],
        caught_up: NamedDependency[int | None],
        as_of: FromQuery[datetime | None] = None,
        known_at: FromQuery[datetime | None] = None,
    ) -> DecisionDetail:
        decision = await services.get_decision(store, key, as_of=as_of, known_at=known_at)
        async with pool.acquire() as conn:
            now = await backlog_read.get_decision_item(conn, decision.id)
        demand = None
        if now is not None:
            demand = DecisionDemand(
                items=now.items,
                demand=now.demand,
                customers=now.customers,
                detractors=now.detractors,
            )
        return DecisionDetail(
            decision=decision,
            history=await history(store, decision.id, as_of=as_of, known_at=known_at),
            demand=demand,
        )

    @post(
        "/{key:str}/accept",
        operation_id="acceptDecision",
        summary="Accept into the backlog",
        description="The triaged feedback it answers becomes planned.",
    )
    async def accept(
        self,
        key: Key,
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.accept_decision, key)

    @post(
        "/{key:str}/decline",
        operation_id="declineDecision",
        summary="Decline",
        description=(
            "The feedback planned under it is declined with the rationale (the proposal's, "
            "when none is given)."
        ),
    )
    async def decline(
        self,
        key: Key,
        data: JSONBody[DecisionDecline],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.decline_decision, key, rationale=data.rationale)

    @post(
        "/{key:str}/supersede",
        operation_id="supersedeDecision",
        summary="Supersede by another decision",
        description="Its feedback moves to the decision named in `by`.",
    )
    async def supersede(
        self,
        key: Key,
        data: JSONBody[DecisionSupersede],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.supersede_decision, key, by=data.by)

    @post(
        "/{key:str}/start",
        operation_id="startDecision",
        summary="Start work on an accepted decision",
        description="A decision is started once accepted.",
    )
    async def start(
        self,
        key: Key,
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.start_decision, key)

    @post(
        "/{key:str}/rank",
        operation_id="rankDecision",
        summary="Rank in the team's backlog",
        description=(
            "Only accepted or in-progress decisions are ranked; 1 is the top, ties sort by number."
        ),
    )
    async def rank(
        self,
        key: Key,
        data: JSONBody[DecisionRank],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.rank_decision, key, rank=data.position)

    @post(
        "/{key:str}/feedback/{fkey:str}",
        operation_id="linkDecisionFeedback",
        summary="Link feedback the decision answers",
        description=(
            "A duplicate counts as its original. When the decision is in the backlog, a "
            "triaged item becomes planned."
        ),
    )
    async def link(
        self,
        key: Key,
        fkey: FeedbackKey,
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.link_feedback, key, feedback=[fkey])

    @delete(
        "/{key:str}/feedback/{fkey:str}",
        operation_id="unlinkDecisionFeedback",
        summary="Unlink feedback",
        description="An item planned under the decision returns to triaged.",
        status_code=200,
    )
    async def unlink(
        self,
        key: Key,
        fkey: FeedbackKey,
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.unlink_feedback, key, feedback=[fkey])
