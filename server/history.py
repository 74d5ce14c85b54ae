"""An aggregate's history as the API shows it: one entry per stored event."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.ports import EventStore
from server.schemas import Schema

_HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic"}


class HistoryEntry(Schema):
    version: int
    event: str
    recorded_at: datetime
    data: dict[str, Any]


async def history(
    store: EventStore, aggregate_id: UUID, *, as_of: datetime | None = None
) -> list[HistoryEntry]:
    """Every event of the aggregate (up to `as_of`), oldest first."""
    events = await store.get_events(aggregate_id, as_of=as_of)
    return [
        HistoryEntry(
            version=e.originator_version,
            event=type(e).__name__,
            recorded_at=e.timestamp,
            data=msgspec.to_builtins(
                {k: v for k, v in vars(e).items() if k not in _HIDDEN}, str_keys=True
            ),
        )
        for e in events
    ]
