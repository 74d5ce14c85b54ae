"""A read-through cache in front of an event store, for one writer running many commands.

Loading the demo runs thousands of commands, each of which re-reads the aggregates it
touches; against PostgreSQL those reads are most of the time spent. While the demo is the
only writer, the events it saved are exactly the events the store holds, so reads can be
answered from memory. Writes still go to the store, with its optimistic concurrency: had
anyone else written meanwhile, a save fails with `ConcurrencyConflict` rather than
overwriting, so the cache can make a load fail, never make it wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanMutateAggregate

from domain.ports import EventStore, Recording


class CachedEventStore:
    """Answers `get_events` from the events read or saved through it; saves to `store`."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._events: dict[UUID, list[CanMutateAggregate[Any]]] = {}

    async def get_events(
        self,
        originator_id: UUID,
        *,
        lte_version: int | None = None,
        known_at: datetime | None = None,
    ) -> Sequence[CanMutateAggregate[Any]]:
        events = self._events.get(originator_id)
        if events is None:
            events = list(await self.store.get_events(originator_id))
            self._events[originator_id] = events
        selected: Sequence[CanMutateAggregate[Any]] = events
        if lte_version is not None:
            selected = [e for e in selected if e.originator_version <= lte_version]
        if known_at is not None:
            selected = [e for e in selected if e.timestamp <= known_at]
        return list(selected)

    async def save(self, *aggregates: BaseAggregate[Any]) -> Recording:
        pending = [(a.id, list(a.pending_events)) for a in aggregates]
        try:
            recording = await self.store.save(*aggregates)
        except BaseException:
            for aggregate_id, _ in pending:
                self._events.pop(aggregate_id, None)  # re-read after a failed save
            raise
        for aggregate_id, events in pending:
            self._events.setdefault(aggregate_id, []).extend(events)
        return recording

    async def next_number(self, sequence: str) -> int:
        return await self.store.next_number(sequence)
