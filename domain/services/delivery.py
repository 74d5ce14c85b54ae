"""Services for increments (deployments, releases) and incidents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from domain.access import SYSTEM, Actor
from domain.common import as_utc
from domain.errors import ConcurrencyConflict
from domain.incident import Incident, IncidentNotFound
from domain.increment import (
    PRODUCTION_ENVIRONMENTS,
    Commit,
    Increment,
    IncrementNotFound,
)
from domain.index import INCIDENT, INCREMENT, PULL_REQUEST, REPOSITORY, Index, KeyTaken
from domain.ports import EventStore
from domain.pull_request import PullRequest, PullRequestNotFound
from domain.references import ReferencePattern
from domain.services.base import Written, check_expected_version, find_index, load, save, written
from domain.services.loaders import Loaded
from domain.services.shipping import Shipped, apply_increment
from domain.services.teams import load_team, own_repository, team_owning
from domain.vocabulary import IncrementStatus


class ServiceOwnedElsewhere(KeyTaken):
    """Raised when an increment names a team other than the one that owns its service."""

    def __init__(self, service: str, owner_id: UUID, owner: str, named: str) -> None:
        super().__init__(REPOSITORY, service, owner_id)
        self.args = (f"service {service!r} is owned by team {owner!r}, not {named!r}",)


async def _owner(
    store: EventStore, service: str, team: str | UUID | None, actor: Actor
) -> UUID | None:
    """The team owning `service` (None: nobody), which the actor must act for. A named
    `team` becomes the owner when nobody owns the service yet; naming another team than the
    owner is refused. Members report only services their teams own."""
    if team is not None:
        named = await load_team(store, team)
        actor.check_acts_for_team(named.id, named.slug)
        owner = await team_owning(store, service)
        if owner is None:
            await own_repository(store, named.id, repository=service)
        elif owner != named.id:
            owning = await load_team(store, owner)
            raise ServiceOwnedElsewhere(service, owner, owning.slug, named.slug)
    owner = await team_owning(store, service)
    actor.check_owned(owner, what=f"service {service!r}")
    return owner


class IncrementWritten(Written, frozen=True):
    """`Written` for an increment, with the references found and what it shipped."""

    feedback_refs: tuple[str, ...] = ()
    decision_refs: tuple[str, ...] = ()
    shipped: Shipped = msgspec.field(default_factory=Shipped)


def increment_natural_key(
    service: str,
    environment: str,
    release_version: str | None,
    commit_sha: str | None,
    started_at: datetime,
    external_ref: str | None,
) -> str:
    """What makes two reports the same increment: the caller's reference, else its facts."""
    if external_ref is not None:
        return f"ref:{external_ref}"
    what = commit_sha or release_version or ""
    return f"{service}|{environment}|{what}|{started_at.isoformat()}"


async def load_increment(
    store: EventStore, increment_id: UUID, *, as_of: datetime | None = None
) -> Increment:
    """The increment (as it was at `as_of`); raises `IncrementNotFound`."""
    return await load(store, Increment, increment_id, IncrementNotFound, as_of=as_of)


async def load_incident(
    store: EventStore, incident_id: UUID, *, as_of: datetime | None = None
) -> Incident:
    """The incident (as it was at `as_of`); raises `IncidentNotFound`."""
    return await load(store, Incident, incident_id, IncidentNotFound, as_of=as_of)


async def record_increment(
    store: EventStore,
    *,
    service: str,
    environment: str,
    release_version: str | None = None,
    commit_sha: str | None = None,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    succeeded: bool = True,
    commits: Sequence[Commit] = (),
    texts: Sequence[str] = (),
    external_ref: str | None = None,
    pattern: ReferencePattern | None = None,
    production: tuple[str, ...] = PRODUCTION_ENVIRONMENTS,
    rolls_back: Sequence[UUID | str] = (),
    team: str | UUID | None = None,
    actor: Actor = SYSTEM,
) -> IncrementWritten:
    """Record a shipped change; a successful production one marks what it references shipped.

    References are looked for in the commit messages and in `texts` (pull-request titles,
    branch names). The same increment reported again (same `external_ref`, else same service,
    environment, sha or version and start) answers the first one and changes nothing.
    `rolls_back` names earlier increments of the same service (by id, or by the
    `external_ref` they were recorded with) that this one rolls back: they become rolled
    back as of this one's finish, in the same write (ones already rolled back are left).
    `team` names who ships the service when no team owns it yet. A member reports only its
    teams' services, and its increment ships only the owning team's decisions and feedback:
    other references are recorded on the increment but not applied (`shipped.not_applied`).
    Verified deliveries from the delivery tooling act as `SYSTEM` and apply every reference.
    """
    finished = as_utc(finished_at, "finished_at")
    started = as_utc(started_at, "started_at") if started_at is not None else finished
    service = service.strip().lower()
    owner = await _owner(store, service, team, actor)
    environment = environment.strip().lower()
    commit_sha = commit_sha.strip().lower() if commit_sha is not None else None
    natural_key = increment_natural_key(
        service, environment, release_version, commit_sha, started, external_ref
    )
    earlier = await _already_recorded(store, natural_key)
    if earlier is not None:
        return earlier
    refs = (pattern or ReferencePattern()).find([*(c.message for c in commits), *texts])
    increment = Increment.record(
        service=service,
        environment=environment,
        release_version=release_version,
        commit_sha=commit_sha,
        started_at=started,
        finished_at=finished,
        succeeded=succeeded,
        commits=tuple(commits),
        feedback_refs=refs.feedback,
        decision_refs=refs.decisions,
        external_ref=external_ref,
    )
    index = Index(kind=INCREMENT, key=natural_key, target_id=increment.id, registered_at=finished)
    rolled_back = await _roll_back_by(store, increment, rolls_back)
    loaded = Loaded(store)
    only_teams = None if actor.manages or owner is None else frozenset({owner})
    shipped = await apply_increment(
        store, loaded, increment, production=production, only_teams=only_teams
    )
    try:
        position = await save(store, increment, index, *rolled_back, *loaded.all())
    except ConcurrencyConflict:
        earlier = await _already_recorded(store, natural_key)
        if earlier is None:
            raise
        return earlier
    return _answer(increment, position, created=True, shipped=shipped)


async def find_increment(store: EventStore, ref: UUID | str) -> Increment:
    """An increment by id, or by the `external_ref` it was recorded with; raises
    `IncrementNotFound`."""
    if isinstance(ref, UUID):
        return await load_increment(store, ref)
    try:
        return await load_increment(store, UUID(ref))
    except ValueError:
        pass
    index = await find_index(store, INCREMENT, f"ref:{ref}")
    if index is None or index.target_id is None:
        raise IncrementNotFound(ref)
    return await load_increment(store, index.target_id)


async def _roll_back_by(
    store: EventStore, rollback: Increment, refs: Sequence[UUID | str]
) -> list[Increment]:
    changed: dict[UUID, Increment] = {}
    for ref in refs:
        earlier = await find_increment(store, ref)
        if earlier.id in changed or earlier.status == IncrementStatus.ROLLED_BACK:
            continue
        earlier.rolled_back_by(rollback)
        changed[earlier.id] = earlier
    return list(changed.values())


def _answer(
    increment: Increment, position: int | None, *, created: bool, shipped: Shipped
) -> IncrementWritten:
    return IncrementWritten(
        id=increment.id,
        version=increment.version,
        position=position,
        created=created,
        status=increment.status,
        feedback_refs=increment.feedback_refs,
        decision_refs=increment.decision_refs,
        shipped=shipped,
    )


async def _already_recorded(store: EventStore, natural_key: str) -> IncrementWritten | None:
    index = await find_index(store, INCREMENT, natural_key)
    if index is None or index.target_id is None:
        return None
    increment = await load_increment(store, index.target_id)
    return _answer(increment, None, created=False, shipped=Shipped())


async def mark_increment_failed(
    store: EventStore,
    increment_id: UUID,
    *,
    reason: str | None = None,
    failed_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """The increment turned out to have failed (what it shipped stays shipped)."""
    increment = await load_increment(store, increment_id)
    check_expected_version(increment, expected_version)
    increment.mark_failed(reason=reason, failed_at=as_utc(failed_at, "failed_at"))
    return written(increment, await save(store, increment))


async def roll_back_increment(
    store: EventStore,
    increment_id: UUID,
    *,
    reason: str | None = None,
    rolled_back_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """The increment was rolled back."""
    increment = await load_increment(store, increment_id)
    check_expected_version(increment, expected_version)
    increment.roll_back(reason=reason, rolled_back_at=as_utc(rolled_back_at, "rolled_back_at"))
    return written(increment, await save(store, increment))


async def open_incident(
    store: EventStore,
    *,
    service: str,
    title: str,
    opened_at: datetime | None = None,
    caused_by_sha: str | None = None,
    caused_by_increment: UUID | None = None,
    external_ref: str | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """Record a production failure; the same `external_ref` again answers the first one.

    Members open incidents only for services their teams own."""
    service = service.strip().lower()
    actor.check_owned(await team_owning(store, service), what=f"service {service!r}")
    if caused_by_increment is not None:
        await load_increment(store, caused_by_increment)
    natural_key = f"{service}:{external_ref}" if external_ref is not None else None
    if natural_key is not None:
        earlier = await _already_opened(store, natural_key)
        if earlier is not None:
            return earlier
    when = as_utc(opened_at, "opened_at")
    incident = Incident.open(
        service=service,
        title=title,
        opened_at=when,
        caused_by_sha=caused_by_sha,
        caused_by_increment_id=caused_by_increment,
        external_ref=external_ref,
    )
    indexes = []
    if natural_key is not None:
        indexes.append(
            Index(kind=INCIDENT, key=natural_key, target_id=incident.id, registered_at=when)
        )
    try:
        position = await save(store, incident, *indexes)
    except ConcurrencyConflict:
        # The same reference opened concurrently: answer the incident that won.
        earlier = await _already_opened(store, natural_key) if natural_key else None
        if earlier is None:
            raise
        return earlier
    return written(incident, position, created=True)


async def _already_opened(store: EventStore, natural_key: str) -> Written | None:
    index = await find_index(store, INCIDENT, natural_key)
    if index is None or index.target_id is None:
        return None
    return written(await load_incident(store, index.target_id), None, created=False)


async def attribute_incident_cause(
    store: EventStore,
    incident_id: UUID,
    *,
    caused_by_sha: str | None = None,
    caused_by_increment: UUID | None = None,
    attributed_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """Name the change that caused the incident, once known."""
    incident = await load_incident(store, incident_id)
    check_expected_version(incident, expected_version)
    if caused_by_increment is not None:
        await load_increment(store, caused_by_increment)
    incident.attribute_cause(
        caused_by_sha=caused_by_sha,
        caused_by_increment_id=caused_by_increment,
        attributed_at=as_utc(attributed_at, "attributed_at"),
    )
    return written(incident, await save(store, incident))


async def resolve_incident(
    store: EventStore,
    incident_id: UUID,
    *,
    resolution: str | None = None,
    resolved_at: datetime | None = None,
    expected_version: int | None = None,
    actor: Actor = SYSTEM,
) -> Written:
    """The failure is over (members: of services their teams own)."""
    incident = await load_incident(store, incident_id)
    actor.check_owned(
        await team_owning(store, incident.service), what=f"service {incident.service!r}"
    )
    check_expected_version(incident, expected_version)
    incident.resolve(resolution=resolution, resolved_at=as_utc(resolved_at, "resolved_at"))
    return written(incident, await save(store, incident))


async def record_pull_request(
    store: EventStore,
    *,
    service: str,
    ref: str,
    opened_at: datetime,
    merged_at: datetime,
    merge_sha: str,
    first_commit_at: datetime | None = None,
    title: str | None = None,
) -> Written:
    """Record a merged pull request of `service`; the same `ref` again answers the first."""
    service = service.strip().lower()
    key = f"{service}|{ref}"
    earlier = await find_index(store, PULL_REQUEST, key)
    if earlier is not None and earlier.target_id is not None:
        found = await load(store, PullRequest, earlier.target_id, PullRequestNotFound)
        return written(found, None, created=False)
    merged = as_utc(merged_at, "merged_at")
    pull = PullRequest.merged(
        service=service,
        ref=ref,
        title=title,
        first_commit_at=as_utc(first_commit_at, "first_commit_at")
        if first_commit_at is not None
        else None,
        opened_at=as_utc(opened_at, "opened_at"),
        merged_at=merged,
        merge_sha=merge_sha.strip().lower(),
    )
    index = Index(kind=PULL_REQUEST, key=key, target_id=pull.id, registered_at=merged)
    try:
        return written(pull, await save(store, pull, index), created=True)
    except ConcurrencyConflict:
        again = await find_index(store, PULL_REQUEST, key)
        if again is None or again.target_id is None:
            raise
        found = await load(store, PullRequest, again.target_id, PullRequestNotFound)
        return written(found, None, created=False)
