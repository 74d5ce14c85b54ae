"""The domain's `EventStore` port implemented on PostgreSQL (asyncpg)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import asyncpg
from eventsourcing.domain import BaseAggregate, CanMutateAggregate
from eventsourcing.persistence import Mapper

from domain.ports import Recording
from infra.recorder import AsyncpgRecorder
from infra.settings import Settings
from infra.transcoder import EventMapper


def create_mapper() -> Mapper[UUID]:
    return EventMapper()


class PostgresEventStore:
    """Loads and saves aggregates through eventsourcing's mapper and the asyncpg recorder."""

    def __init__(self, recorder: AsyncpgRecorder, mapper: Mapper[UUID] | None = None) -> None:
        self.recorder = recorder
        self.mapper = mapper or create_mapper()

    @classmethod
    def from_pool(cls, pool: asyncpg.Pool, settings: Settings) -> PostgresEventStore:
        return cls(
            AsyncpgRecorder(
                pool,
                append_retries=settings.append_retries,
                poll_interval=settings.poll_interval,
            )
        )

    async def get_events(
        self,
        originator_id: UUID,
        *,
        lte_version: int | None = None,
        known_at: datetime | None = None,
    ) -> Sequence[CanMutateAggregate[Any]]:
        stored = await self.recorder.select_events(originator_id, lte_version=lte_version)
        events = [cast(CanMutateAggregate[Any], self.mapper.to_domain_event(s)) for s in stored]
        if known_at is not None:
            events = [e for e in events if e.timestamp <= known_at]
        return events

    async def save(self, *aggregates: BaseAggregate[Any]) -> Recording:
        pending = [event for aggregate in aggregates for event in aggregate.collect_events()]
        stored = [self.mapper.to_stored_event(event) for event in pending]
        positions = await self.recorder.append(stored)
        return Recording(positions=tuple(positions))

    async def next_number(self, sequence: str) -> int:
        return await self.recorder.next_number(sequence)
