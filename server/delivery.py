"""Delivery: record increments (deployments) and incidents, and list them.

Writes need admin or product, or a member of the team that owns the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from domain import services
from domain.access import Actor
from domain.increment import Commit
from domain.vocabulary import IncidentStatus, IncrementStatus
from infra.eventstore import PostgresEventStore
from projections import delivery, paging
from server.dependencies import Change
from server.schemas import Schema, WriteResult, already_recorded, write_result

IncidentId = Annotated[UUID, PathParameter(description="The incident's id.")]
Limit = Annotated[int, QueryParameter(ge=1, le=paging.MAX_LIMIT)]


class CommitCreate(Schema):
    sha: str
    authored_at: datetime
    message: str


class IncrementCreate(Schema):
    service: str
    environment: str
    finished_at: datetime | None = None
    status: Literal["success", "failure"] = "success"
    release_version: str | None = None
    """The version released, named as every increment answer names it (`version` there is
    the increment's own version, for If-Match)."""
    commit_sha: str | None = None
    started_at: datetime | None = None
    commits: list[CommitCreate] = msgspec.field(default_factory=list)
    team: str | None = None
    external_ref: str | None = None
    rolls_back: list[str] = msgspec.field(default_factory=list)
    """Earlier increments of the service this one rolls back: ids or their external_ref."""


class IncrementRecorded(WriteResult):
    """What recording an increment answers: the references its commits named, and the
    decision and feedback keys it marked shipped (empty when it was already recorded)."""

    feedback_refs: list[str] = msgspec.field(default_factory=list)
    decision_refs: list[str] = msgspec.field(default_factory=list)
    shipped_decisions: list[str] = msgspec.field(default_factory=list)
    shipped_feedback: list[str] = msgspec.field(default_factory=list)
    not_applied: list[str] = msgspec.field(default_factory=list)
    """References this token may not ship (a member's increment naming another team's
    decision or feedback): recorded on the increment, not applied."""


class IncidentCreate(Schema):
    service: str
    title: str
    opened_at: datetime | None = None
    caused_by_sha: str | None = None
    caused_by_increment: UUID | None = None
    external_ref: str | None = None


class IncidentResolve(Schema):
    resolved_at: datetime | None = None
    resolution: str | None = None


class IncrementController(Controller):
    path = "/api/increments"
    tags = ["delivery"]

    @post(
        operation_id="recordIncrement",
        summary="Record an increment (a deployment)",
        description=(
            "A shipped change of a service to an environment. `DEC-<n>` and `FB-<n>` in commit "
            "messages are references: a successful production increment marks them shipped. "
            "`team` is needed when no team owns the service yet (it then owns it); naming "
            "another team than the owner is a 409. The same increment again (same "
            "`external_ref`, else service, environment, commit_sha or release_version and "
            "start) answers the first one with 200. `rolls_back` names earlier increments of "
            "the service (ids or external refs) that this one rolls back: they count as failed "
            "changes, recovered when this one finished. Admin, product, or a member of the "
            "owning team."
        ),
        status_code=201,
        responses=already_recorded(IncrementRecorded),
    )
    async def record(
        self,
        data: JSONBody[IncrementCreate],
        store: NamedDependency[PostgresEventStore],
        actor: NamedDependency[Actor],
    ) -> Response[IncrementRecorded]:
        written = await services.record_increment(
            store,
            service=data.service,
            environment=data.environment,
            release_version=data.release_version,
            commit_sha=data.commit_sha,
            started_at=data.started_at,
            finished_at=data.finished_at,
            succeeded=data.status == "success",
            commits=[Commit(c.sha, c.authored_at, c.message) for c in data.commits],
            external_ref=data.external_ref,
            rolls_back=data.rolls_back,
            team=data.team,
            actor=actor,
        )
        body = IncrementRecorded(
            id=written.id,
            version=written.version,
            position=written.position,
            status=written.status,
            feedback_refs=list(written.feedback_refs),
            decision_refs=list(written.decision_refs),
            shipped_decisions=list(written.shipped.decisions),
            shipped_feedback=list(written.shipped.feedback),
            not_applied=list(written.shipped.not_applied),
        )
        return Response(body, status_code=201 if written.created else 200)

    @get(
        operation_id="listIncrements",
        summary="List increments",
        description=(
            "Most recently finished first, cursor-paginated. `team` selects the services it "
            "owns; `status` is succeeded, failed or rolled_back."
        ),
    )
    async def list_increments(
        self,
        pool: NamedDependency[asyncpg.Pool],
        caught_up: NamedDependency[int | None],
        team: FromQuery[str | None] = None,
        service: FromQuery[str | None] = None,
        production: FromQuery[bool | None] = None,
        status: FromQuery[IncrementStatus | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = paging.DEFAULT_LIMIT,
    ) -> delivery.IncrementPage:
        async with pool.acquire() as conn:
            return await delivery.list_increments(
                conn,
                team=team,
                service=service,
                production=production,
                status=status,
                cursor=cursor,
                limit=limit,
            )


class IncidentController(Controller):
    path = "/api/incidents"
    tags = ["delivery"]

    @post(
        operation_id="openIncident",
        summary="Open an incident",
        description=(
            "A production failure of a service; `caused_by_sha` ties it to the deployment that "
            "carried that commit. The same `external_ref` again answers the first one with 200. "
            "Admin, product, or a member of the team owning the service."
        ),
        status_code=201,
        responses=already_recorded(WriteResult),
    )
    async def open_incident(
        self,
        data: JSONBody[IncidentCreate],
        store: NamedDependency[PostgresEventStore],
        actor: NamedDependency[Actor],
    ) -> Response[WriteResult]:
        written = await services.open_incident(
            store,
            service=data.service,
            title=data.title,
            opened_at=data.opened_at,
            caused_by_sha=data.caused_by_sha,
            caused_by_increment=data.caused_by_increment,
            external_ref=data.external_ref,
            actor=actor,
        )
        return Response(write_result(written), status_code=201 if written.created else 200)

    @post(
        "/{id:uuid}/resolve",
        operation_id="resolveIncident",
        summary="Resolve an incident",
        description="The failure is over. Admin, product, or a member of the owning team.",
    )
    async def resolve(
        self,
        id: IncidentId,
        data: JSONBody[IncidentResolve],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(
            services.resolve_incident, id, resolution=data.resolution, resolved_at=data.resolved_at
        )

    @get(
        operation_id="listIncidents",
        summary="List incidents",
        description="Most recently opened first, cursor-paginated; `status` is open or resolved.",
    )
    async def list_incidents(
        self,
        pool: NamedDependency[asyncpg.Pool],
        caught_up: NamedDependency[int | None],
        team: FromQuery[str | None] = None,
        service: FromQuery[str | None] = None,
        status: FromQuery[IncidentStatus | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = paging.DEFAULT_LIMIT,
    ) -> delivery.IncidentPage:
        async with pool.acquire() as conn:
            return await delivery.list_incidents(
                conn, team=team, service=service, status=status, cursor=cursor, limit=limit
            )
