"""Services for teams and the outcomes they align to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from domain.common import as_utc
from domain.errors import ConcurrencyConflict, ValidationError
from domain.index import REPOSITORY, TEAM_SLUG, Index
from domain.outcome import Outcome, OutcomeNotFound
from domain.ports import EventStore
from domain.services.base import (
    Written,
    check_expected_version,
    claim_key,
    find_index,
    load,
    save,
    written,
)
from domain.team import Team, TeamNotFound, normalize_repository

#: How many times `own_repository` reloads after losing a race on the team or the key.
_OWN_RETRIES = 3


async def resolve_team(store: EventStore, ref: str | UUID) -> UUID:
    """The id of the team with that id or slug; raises `TeamNotFound`."""
    if isinstance(ref, UUID):
        return ref
    try:
        return UUID(ref)
    except ValueError:
        pass
    index = await find_index(store, TEAM_SLUG, ref.strip().lower())
    if index is None or index.target_id is None:
        raise TeamNotFound(f"no team {ref!r}")
    return index.target_id


async def load_team(store: EventStore, ref: str | UUID, *, as_of: datetime | None = None) -> Team:
    """The team with that id or slug (as it was at `as_of`); raises `TeamNotFound`."""
    return await load(store, Team, await resolve_team(store, ref), TeamNotFound, as_of=as_of)


async def load_outcome(
    store: EventStore, outcome_id: UUID, *, as_of: datetime | None = None
) -> Outcome:
    """The outcome with that id (as it was at `as_of`); raises `OutcomeNotFound`."""
    return await load(store, Outcome, outcome_id, OutcomeNotFound, as_of=as_of)


async def _team_for_update(store: EventStore, ref: str | UUID, expected: int | None) -> Team:
    team = await load_team(store, ref)
    check_expected_version(team, expected)
    return team


async def form_team(
    store: EventStore, *, slug: str, name: str, formed_at: datetime | None = None
) -> Written:
    """Form a team with a unique slug; raises `KeyTaken` when the slug is in use."""
    slug = slug.strip().lower()
    when = as_utc(formed_at, "formed_at")
    team = Team.form(slug=slug, name=name, formed_at=when)
    index = await claim_key(store, TEAM_SLUG, slug, team.id, when)
    return written(team, await save(store, team, index), key=slug, created=True)


async def rename_team(
    store: EventStore,
    team_ref: str | UUID,
    *,
    name: str,
    renamed_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """Give a team a new display name (its slug stays)."""
    team = await _team_for_update(store, team_ref, expected_version)
    team.rename(name=name, renamed_at=as_utc(renamed_at, "renamed_at"))
    return written(team, await save(store, team), key=team.slug)


async def add_member(
    store: EventStore,
    team_ref: str | UUID,
    *,
    handle: str,
    skills: Sequence[str] = (),
    joined_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """A person joins the team, described by their handle and skills."""
    team = await _team_for_update(store, team_ref, expected_version)
    team.join(
        handle=handle.strip(), skills=_skills(skills), joined_at=as_utc(joined_at, "joined_at")
    )
    return written(team, await save(store, team), key=team.slug)


async def change_member_skills(
    store: EventStore,
    team_ref: str | UUID,
    *,
    handle: str,
    skills: Sequence[str],
    changed_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """Record a member's current skills."""
    team = await _team_for_update(store, team_ref, expected_version)
    team.change_skills(
        handle=handle.strip(), skills=_skills(skills), changed_at=as_utc(changed_at, "changed_at")
    )
    return written(team, await save(store, team), key=team.slug)


async def remove_member(
    store: EventStore,
    team_ref: str | UUID,
    *,
    handle: str,
    left_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """A member leaves the team."""
    team = await _team_for_update(store, team_ref, expected_version)
    team.leave(handle=handle.strip(), left_at=as_utc(left_at, "left_at"))
    return written(team, await save(store, team), key=team.slug)


async def own_repository(
    store: EventStore,
    team_ref: str | UUID,
    *,
    repository: str,
    owned_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """The team owns a repository or service; raises `KeyTaken` when another team does.

    Owning what the team already owns changes nothing, also when the same claim raced
    (concurrent deliveries naming the team): the loser reloads and finds it owned.
    """
    name = normalize_repository(repository)
    when = as_utc(owned_at, "owned_at")
    for _ in range(_OWN_RETRIES):
        team = await _team_for_update(store, team_ref, expected_version)
        if name in team.repositories:
            return written(team, None, key=team.slug)
        team.own(repository=name, owned_at=when)
        index = await claim_key(store, REPOSITORY, name, team.id, when)
        try:
            return written(team, await save(store, team, index), key=team.slug)
        except ConcurrencyConflict:
            if expected_version is not None:
                raise
    raise ConcurrencyConflict(f"could not record that team {team_ref} owns {name}")


async def disown_repository(
    store: EventStore,
    team_ref: str | UUID,
    *,
    repository: str,
    disowned_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """The team no longer owns a repository or service; another team may now own it."""
    team = await _team_for_update(store, team_ref, expected_version)
    name = normalize_repository(repository)
    when = as_utc(disowned_at, "disowned_at")
    team.disown(repository=name, disowned_at=when)
    index = await find_index(store, REPOSITORY, name)
    touched: list[Team | Index] = [team]
    if index is not None and index.target_id == team.id:
        index.release(released_at=when)
        touched.append(index)
    return written(team, await save(store, *touched), key=team.slug)


async def team_owning(store: EventStore, repository: str) -> UUID | None:
    """The id of the team that owns a repository or service, if any (attributes deployments)."""
    index = await find_index(store, REPOSITORY, normalize_repository(repository))
    return None if index is None else index.target_id


async def adopt_outcome(
    store: EventStore,
    team_ref: str | UUID,
    *,
    outcome_id: UUID,
    adopted_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """The team adopts a customer outcome (and the outcome records the team as aligned)."""
    team = await _team_for_update(store, team_ref, expected_version)
    outcome = await load_outcome(store, outcome_id)
    when = as_utc(adopted_at, "adopted_at")
    if outcome_id not in team.outcome_ids:
        team.adopt_outcome(outcome_id=outcome_id, adopted_at=when)
    if team.id not in outcome.team_ids:
        outcome.align_team(team_id=team.id, aligned_at=when)
    return written(team, await save(store, team, outcome), key=team.slug)


async def drop_outcome(
    store: EventStore,
    team_ref: str | UUID,
    *,
    outcome_id: UUID,
    dropped_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """The team drops an outcome it had adopted."""
    team = await _team_for_update(store, team_ref, expected_version)
    outcome = await load_outcome(store, outcome_id)
    when = as_utc(dropped_at, "dropped_at")
    team.drop_outcome(outcome_id=outcome_id, dropped_at=when)
    if team.id in outcome.team_ids:
        outcome.unalign_team(team_id=team.id, unaligned_at=when)
    return written(team, await save(store, team, outcome), key=team.slug)


async def define_outcome(
    store: EventStore,
    *,
    statement: str,
    measure: str,
    target: str | None = None,
    defined_at: datetime | None = None,
) -> Written:
    """Define a desired customer outcome and how it is measured."""
    outcome = Outcome.define(
        statement=statement,
        measure=measure,
        target=target,
        defined_at=as_utc(defined_at, "defined_at"),
    )
    return written(outcome, await save(store, outcome), created=True)


async def revise_outcome(
    store: EventStore,
    outcome_id: UUID,
    *,
    statement: str,
    measure: str,
    target: str | None = None,
    revised_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """Restate an outcome, its measure or its target."""
    outcome = await load_outcome(store, outcome_id)
    check_expected_version(outcome, expected_version)
    outcome.revise(
        statement=statement,
        measure=measure,
        target=target,
        revised_at=as_utc(revised_at, "revised_at"),
    )
    return written(outcome, await save(store, outcome))


async def align_team(
    store: EventStore,
    outcome_id: UUID,
    *,
    team: str | UUID,
    aligned_at: datetime | None = None,
) -> Written:
    """Align a team with the outcome (the same as the team adopting it); answers the outcome."""
    done = await adopt_outcome(store, team, outcome_id=outcome_id, adopted_at=aligned_at)
    outcome = await load_outcome(store, outcome_id)
    return written(outcome, done.position)


async def retire_outcome(
    store: EventStore,
    outcome_id: UUID,
    *,
    reason: str | None = None,
    retired_at: datetime | None = None,
    expected_version: int | None = None,
) -> Written:
    """Retire an outcome that no longer guides the work."""
    outcome = await load_outcome(store, outcome_id)
    check_expected_version(outcome, expected_version)
    outcome.retire(reason=reason, retired_at=as_utc(retired_at, "retired_at"))
    return written(outcome, await save(store, outcome))


def _skills(skills: Sequence[str]) -> tuple[str, ...]:
    if isinstance(skills, str):
        raise ValidationError("skills", "must be a list of skills")
    return tuple(dict.fromkeys(s.strip() for s in skills))
