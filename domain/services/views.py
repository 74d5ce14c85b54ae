"""Plain Structs showing one aggregate's state, e.g. an item as it was at some time."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import msgspec

from domain.decision import Decision
from domain.feedback import Demand, Feedback
from domain.incident import Incident
from domain.increment import Commit, Increment
from domain.outcome import Outcome
from domain.ports import EventStore
from domain.services.delivery import load_incident, load_increment
from domain.services.loaders import load_decision, load_feedback
from domain.services.teams import load_outcome, load_team
from domain.team import Team
from domain.vocabulary import Channel, DecisionStatus, FeedbackStatus, Impact


class Member(msgspec.Struct, frozen=True):
    handle: str
    skills: tuple[str, ...]


class TeamView(msgspec.Struct, frozen=True):
    id: UUID
    version: int
    slug: str
    name: str
    formed_at: datetime
    members: tuple[Member, ...]
    outcome_ids: tuple[UUID, ...]
    repositories: tuple[str, ...]

    @classmethod
    def of(cls, team: Team) -> TeamView:
        return cls(
            id=team.id,
            version=team.version,
            slug=team.slug,
            name=team.name,
            formed_at=team.formed_at,
            members=tuple(Member(h, s) for h, s in team.members.items()),
            outcome_ids=team.outcome_ids,
            repositories=team.repositories,
        )


class OutcomeView(msgspec.Struct, frozen=True):
    id: UUID
    version: int
    statement: str
    measure: str
    target: str | None
    status: str
    defined_at: datetime
    team_ids: tuple[UUID, ...]

    @classmethod
    def of(cls, outcome: Outcome) -> OutcomeView:
        return cls(
            id=outcome.id,
            version=outcome.version,
            statement=outcome.statement,
            measure=outcome.measure,
            target=outcome.target,
            status=outcome.status,
            defined_at=outcome.defined_at,
            team_ids=outcome.team_ids,
        )


class FeedbackView(msgspec.Struct, frozen=True):
    id: UUID
    version: int
    key: str
    status: FeedbackStatus
    channel: Channel
    touchpoint: str
    text: str
    customer_ref: str | None
    segment: str | None
    nps: int | None
    nps_reason: str | None
    external_ref: str | None
    received_at: datetime
    earliest_received_at: datetime
    team_id: UUID | None
    tags: tuple[str, ...]
    impact: Impact | None
    outcome_id: UUID | None
    decision_id: UUID | None
    deferred_until: date | None
    reason: str | None
    duplicate_of: UUID | None
    duplicate_ids: tuple[UUID, ...]
    demand: tuple[Demand, ...]
    shipped_by: tuple[UUID, ...]
    shipped_at: datetime | None
    loop_closed_how: str | None
    followed_up_at: datetime | None
    modified_on: datetime

    @classmethod
    def of(cls, item: Feedback) -> FeedbackView:
        return cls(
            id=item.id,
            version=item.version,
            key=item.key,
            status=item.status,
            channel=Channel(item.channel),
            touchpoint=item.touchpoint,
            text=item.text,
            customer_ref=item.customer_ref,
            segment=item.segment,
            nps=item.nps,
            nps_reason=item.nps_reason,
            external_ref=item.external_ref,
            received_at=item.received_at,
            earliest_received_at=item.earliest_received_at,
            team_id=item.team_id,
            tags=item.tags,
            impact=None if item.impact is None else Impact(item.impact),
            outcome_id=item.outcome_id,
            decision_id=item.decision_id,
            deferred_until=item.deferred_until,
            reason=item.reason,
            duplicate_of=item.duplicate_of,
            duplicate_ids=item.duplicate_ids,
            demand=item.demand,
            shipped_by=item.shipped_by,
            shipped_at=item.shipped_at,
            loop_closed_how=item.loop_closed_how,
            followed_up_at=item.followed_up_at,
            modified_on=item.modified_on,
        )


class DecisionView(msgspec.Struct, frozen=True):
    id: UUID
    version: int
    key: str
    status: DecisionStatus
    team_id: UUID
    title: str
    rationale: str
    options: tuple[str, ...]
    outcome_id: UUID | None
    feedback_ids: tuple[UUID, ...]
    proposed_by: str | None
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    rank: int | None
    superseded_by: UUID | None
    shipped_by: tuple[UUID, ...]
    shipped_at: datetime | None
    modified_on: datetime

    @classmethod
    def of(cls, decision: Decision) -> DecisionView:
        return cls(
            id=decision.id,
            version=decision.version,
            key=decision.key,
            status=decision.status,
            team_id=decision.team_id,
            title=decision.title,
            rationale=decision.rationale,
            options=decision.options,
            outcome_id=decision.outcome_id,
            feedback_ids=decision.feedback_ids,
            proposed_by=decision.proposed_by,
            proposed_at=decision.proposed_at,
            decided_by=decision.decided_by,
            decided_at=decision.decided_at,
            rank=decision.rank,
            superseded_by=decision.superseded_by,
            shipped_by=decision.shipped_by,
            shipped_at=decision.shipped_at,
            modified_on=decision.modified_on,
        )


class IncrementView(msgspec.Struct, frozen=True):
    id: UUID
    version: int
    service: str
    environment: str
    release_version: str | None
    commit_sha: str | None
    started_at: datetime
    finished_at: datetime
    status: str
    reason: str | None
    commits: tuple[Commit, ...]
    feedback_refs: tuple[str, ...]
    decision_refs: tuple[str, ...]
    external_ref: str | None

    @classmethod
    def of(cls, increment: Increment) -> IncrementView:
        return cls(
            id=increment.id,
            version=increment.version,
            service=increment.service,
            environment=increment.environment,
            release_version=increment.release_version,
            commit_sha=increment.commit_sha,
            started_at=increment.started_at,
            finished_at=increment.finished_at,
            status=increment.status,
            reason=increment.reason,
            commits=increment.commits,
            feedback_refs=increment.feedback_refs,
            decision_refs=increment.decision_refs,
            external_ref=increment.external_ref,
        )


class IncidentView(msgspec.Struct, frozen=True):
    id: UUID
    version: int
    service: str
    title: str
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None
    caused_by_sha: str | None
    caused_by_increment_id: UUID | None
    external_ref: str | None

    @classmethod
    def of(cls, incident: Incident) -> IncidentView:
        return cls(
            id=incident.id,
            version=incident.version,
            service=incident.service,
            title=incident.title,
            status=incident.status,
            opened_at=incident.opened_at,
            resolved_at=incident.resolved_at,
            resolution=incident.resolution,
            caused_by_sha=incident.caused_by_sha,
            caused_by_increment_id=incident.caused_by_increment_id,
            external_ref=incident.external_ref,
        )


async def get_team(
    store: EventStore, ref: str | UUID, *, as_of: datetime | None = None
) -> TeamView:
    """The team with that id or slug, as it is (or was at `as_of`)."""
    return TeamView.of(await load_team(store, ref, as_of=as_of))


async def get_outcome(
    store: EventStore, outcome_id: UUID, *, as_of: datetime | None = None
) -> OutcomeView:
    """The outcome, as it is (or was at `as_of`)."""
    return OutcomeView.of(await load_outcome(store, outcome_id, as_of=as_of))


async def get_feedback(
    store: EventStore,
    ref: str | UUID,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> FeedbackView:
    """The feedback item with that id or key, as it is (or as it stood in the world at
    `as_of`, as Loopline knew it at `known_at`)."""
    return FeedbackView.of(await load_feedback(store, ref, as_of=as_of, known_at=known_at))


async def get_decision(
    store: EventStore,
    ref: str | UUID,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> DecisionView:
    """The decision with that id or key, as it is (or as it stood in the world at `as_of`,
    as Loopline knew it at `known_at`)."""
    return DecisionView.of(await load_decision(store, ref, as_of=as_of, known_at=known_at))


async def get_increment(
    store: EventStore, increment_id: UUID, *, as_of: datetime | None = None
) -> IncrementView:
    """The increment, as it is (or was at `as_of`)."""
    return IncrementView.of(await load_increment(store, increment_id, as_of=as_of))


async def get_incident(
    store: EventStore, incident_id: UUID, *, as_of: datetime | None = None
) -> IncidentView:
    """The incident, as it is (or was at `as_of`)."""
    return IncidentView.of(await load_incident(store, incident_id, as_of=as_of))
