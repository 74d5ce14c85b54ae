"""An in-memory `EventStore`: the port's semantics without a database, for tests and demos."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanMutateAggregate

from domain.errors import ConcurrencyConflict
from domain.ports import Recording


class InMemoryEventStore:
    """Events per aggregate plus one global sequence whose positions start at 1."""

    def __init__(self) -> None:
        self._events: dict[UUID, list[CanMutateAggregate[Any]]] = defaultdict(list)
        self._log: list[CanMutateAggregate[Any]] = []
        self._counters: dict[str, int] = defaultdict(int)
        self._lock = asyncio.Lock()

    async def get_events(
        self,
        originator_id: UUID,
        *,
        lte_version: int | None = None,
        known_at: datetime | None = None,
    ) -> Sequence[CanMutateAggregate[Any]]:
        events = list(self._events.get(originator_id, ()))
        if lte_version is not None:
            events = [e for e in events if e.originator_version <= lte_version]
        if known_at is not None:
            events = [e for e in events if e.timestamp <= known_at]
        return events

    async def save(self, *aggregates: BaseAggregate[Any]) -> Recording:
        async with self._lock:
            pending = [e for agg in aggregates for e in agg.collect_events()]
            self._check_conflicts(pending)
            positions = []
            for e in pending:
                self._events[e.originator_id].append(e)
                self._log.append(e)
                positions.append(len(self._log))
            return Recording(positions=tuple(positions))

    def _check_conflicts(self, pending: Sequence[CanMutateAggregate[Any]]) -> None:
        taken: set[tuple[UUID, int]] = set()
        for e in pending:
            stored = self._events.get(e.originator_id, ())
            current = len(stored)
            slot = (e.originator_id, e.originator_version)
            if e.originator_version <= current or slot in taken:
                raise ConcurrencyConflict(
                    f"version {e.originator_version} of {e.originator_id} is already taken",
                    current_version=current,
                )
            taken.add(slot)

    async def next_number(self, sequence: str) -> int:
        self._counters[sequence] += 1
        return self._counters[sequence]

    def all_events(self) -> Sequence[CanMutateAggregate[Any]]:
        """Every stored event in position order (position = index + 1)."""
        return tuple(self._log)

    def originator_ids(self) -> Sequence[UUID]:
        """The ids of every aggregate with stored events."""
        return tuple(self._events)
