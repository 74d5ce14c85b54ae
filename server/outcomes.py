"""Customer outcomes: define one for a team, list them, read one."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import asyncpg
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from domain import services
from domain.outcome import OutcomeNotFound
from infra.eventstore import PostgresEventStore
from projections import directory
from server.auth import MANAGERS
from server.schemas import Schema, WriteResult, write_result

OutcomeId = Annotated[UUID, PathParameter(description="The outcome's id.")]


class OutcomeCreate(Schema):
    statement: str
    measure: str
    team: str
    target: str | None = None


class OutcomeController(Controller):
    path = "/api/outcomes"
    tags = ["outcomes"]

    @post(
        operation_id="defineOutcome",
        summary="Define a customer outcome for a team",
        description=(
            "A desired customer outcome and how it is measured; `team` (slug or id) adopts it. "
            "Product or admin."
        ),
        status_code=201,
        guards=[MANAGERS],
    )
    async def define(
        self, data: JSONBody[OutcomeCreate], store: NamedDependency[PostgresEventStore]
    ) -> WriteResult:
        # Find the team first so that a wrong slug leaves no orphaned outcome behind.
        team = await services.resolve_team(store, data.team)
        await services.get_team(store, team)
        defined = await services.define_outcome(
            store, statement=data.statement, measure=data.measure, target=data.target
        )
        aligned = await services.align_team(store, defined.id, team=team)
        return write_result(aligned)

    @get(
        operation_id="listOutcomes",
        summary="List outcomes",
        description="Every outcome, oldest defined first, with the teams aligned to it.",
    )
    async def list_outcomes(
        self, pool: NamedDependency[asyncpg.Pool], caught_up: NamedDependency[int | None]
    ) -> list[directory.OutcomeItem]:
        async with pool.acquire() as conn:
            return await directory.list_outcomes(conn)

    @get(
        "/{id:uuid}",
        operation_id="getOutcome",
        summary="One outcome",
        description="The outcome, how it is measured, and the teams aligned to it.",
    )
    async def get_outcome(
        self,
        id: OutcomeId,
        pool: NamedDependency[asyncpg.Pool],
        caught_up: NamedDependency[int | None],
    ) -> directory.OutcomeItem:
        async with pool.acquire() as conn:
            item = await directory.get_outcome_item(conn, id)
        if item is None:
            raise OutcomeNotFound(f"no outcome {id}")
        return item
