"""The event-store port that application services depend on.

`domain/` declares it; the asyncpg store in `infra/` and the in-memory store in
`domain/memory.py` implement it, so services run (and are tested) against either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import msgspec
from eventsourcing.domain import BaseAggregate, CanMutateAggregate


class Recording(msgspec.Struct, frozen=True):
    """What a successful save returns: the position (notification id) of each new event."""

    positions: tuple[int, ...]

    @property
    def last_position(self) -> int | None:
        return self.positions[-1] if self.positions else None


class EventStore(Protocol):
    """Loads and saves aggregates' events atomically, with optimistic concurrency."""

    async def get_events(
        self,
        originator_id: UUID,
        *,
        lte_version: int | None = None,
        known_at: datetime | None = None,
    ) -> Sequence[CanMutateAggregate[Any]]:
        """The events of one aggregate in version order (empty when it does not exist).

        `lte_version` stops at that version; `known_at` keeps only events recorded at or
        before that time (the event's own timestamp).
        """
        ...

    async def save(self, *aggregates: BaseAggregate[Any]) -> Recording:
        """Append the pending events of all `aggregates` in one transaction.

        Raises `domain.errors.ConcurrencyConflict` and writes nothing when any
        (originator_id, originator_version) is already taken.
        """
        ...

    async def next_number(self, sequence: str) -> int:
        """Next value of a named, strictly increasing counter (human keys FB-n, DEC-n).

        Values are never reused; gaps are allowed.
        """
        ...
