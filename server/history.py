"""An aggregate's history as the API shows it: one entry per stored event."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.happened import happened_at, happened_by
from domain.ports import EventStore
from server.schemas import Schema

_HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic"}


class HistoryEntry(Schema):
    version: int
    event: str
    recorded_at: datetime
    happened_at: datetime
    data: dict[str, Any]


async def history(
    store: EventStore,
    aggregate_id: UUID,
    *,
    as_of: datetime | None = None,
    known_at: datetime | None = None,
) -> list[HistoryEntry]:
    """The aggregate's events, oldest first: every one recorded (by `known_at`), or, with
    `as_of`, those that had happened in the world by then (corrections and what they
    cancel left out, see `domain.happened`)."""
    events = await store.get_events(aggregate_id, known_at=known_at)
    if as_of is not None:
        events = happened_by(events, as_of)
    return [
        HistoryEntry(
            version=e.originator_version,
            event=type(e).__name__,
            recorded_at=e.timestamp,
            happened_at=happened_at(e),
            data=msgspec.to_builtins(
                {k: v for k, v in vars(e).items() if k not in _HIDDEN}, str_keys=True
            ),
        )
        for e in events
    ]
