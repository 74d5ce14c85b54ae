"""What every application service shares: loading, key look-ups, expected versions, saving."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.errors import NotFound, StaleVersion, ValidationError
from domain.happened import happened_by, replay
from domain.index import HUMAN_KEY, Index, index_id
from domain.keys import parse_ref
from domain.ports import EventStore

A = TypeVar("A", bound=Aggregate)


class Written(msgspec.Struct, frozen=True):
    """What a command returns: the aggregate it acted on and where its events went.

    `version` is the aggregate's version after the command (send it back as the expected
    version of the next write); `status` is the aggregate's status after it, where it has
    one; `position` is the position of the last event this command stored (wait for
    projections to reach it), None when the command changed nothing.
    """

    id: UUID
    version: int
    position: int | None
    key: str | None = None
    created: bool = False
    status: str | None = None


async def load(
    store: EventStore,
    cls: type[A],
    aggregate_id: UUID,
    not_found: type[NotFound],
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
    lte_version: int | None = None,
) -> A:
    """The aggregate rebuilt from its events: as it stood in the world at `as_of`, as
    Loopline knew it at `known_at`, up to `lte_version` (see `domain.happened`).

    Raises `not_found` when it has no events (then) or is of another kind.
    """
    for field, when in (("as_of", as_of), ("known_at", known_at)):
        if when is not None and when.utcoffset() is None:
            raise ValidationError(field, "must carry a time zone")
    events = await store.get_events(aggregate_id, lte_version=lte_version, known_at=known_at)
    if as_of is None:
        aggregate: Any = replay(events)
    else:
        aggregate = replay(happened_by(events, as_of), skipping=True)
    if not isinstance(aggregate, cls):
        raise not_found(f"no {cls.__name__.lower()} {aggregate_id}")
    return aggregate


async def find_index(store: EventStore, kind: str, key: str) -> Index | None:
    """The index aggregate for a natural key, or None when the key was never registered."""
    try:
        return await load(store, Index, index_id(kind, key), NotFound)
    except NotFound:
        return None


async def resolve_ref(
    store: EventStore, ref: str | UUID, prefix: str, not_found: type[NotFound]
) -> UUID:
    """The id behind a UUID or a human key (`FB-12`, `DEC-7`); raises `not_found`."""
    parsed = parse_ref(ref, prefix)
    if isinstance(parsed, UUID):
        return parsed
    index = await find_index(store, HUMAN_KEY, parsed)
    if index is None or index.target_id is None:
        raise not_found(f"no item {parsed}")
    return index.target_id


async def claim_key(
    store: EventStore, kind: str, key: str, target_id: UUID, when: datetime
) -> Index:
    """The index pointing `key` at `target_id`, to save with the target in one call.

    Raises `KeyTaken` when the key points at another aggregate. A concurrent claim of the
    same key makes one of the two saves fail with `ConcurrencyConflict`.
    """
    index = await find_index(store, kind, key)
    if index is None:
        return Index(kind=kind, key=key, target_id=target_id, registered_at=when)
    index.check_free_for(target_id)
    if index.target_id is None:
        index.claim(target_id=target_id, claimed_at=when)
    return index


def check_expected_version(aggregate: Aggregate, expected_version: int | None) -> None:
    """Raise `StaleVersion` when the caller saw a version other than the current one."""
    if expected_version is not None and aggregate.version != expected_version:
        raise StaleVersion(
            f"expected version {expected_version}, it is at version {aggregate.version}",
            current_version=aggregate.version,
        )


async def save(store: EventStore, *aggregates: Aggregate) -> int | None:
    """Save every aggregate with pending events in one call; the last position, or None."""
    changed = list({a.id: a for a in aggregates if a.pending_events}.values())
    if not changed:
        return None
    recording = await store.save(*changed)
    return recording.last_position


def written(aggregate: Aggregate, position: int | None, **extra: Any) -> Written:
    """The `Written` answer for `aggregate` after a save at `position`, with its status."""
    status = getattr(aggregate, "status", None)
    return Written(
        id=aggregate.id, version=aggregate.version, position=position, status=status, **extra
    )
