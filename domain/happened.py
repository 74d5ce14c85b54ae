"""The two times of an event, and an aggregate rebuilt as it stood at either.

Every event is recorded at its own `timestamp` (when Loopline learnt it). Events of
feedback and decisions also say when the thing happened in the world, in their one
`*_at` field (`received_at`, `triaged_at`, `decided_at`, `shipped_at`, `closed_at`, …);
an event without one happened when it was recorded.

- *known at* T: the events recorded by T, corrections included (what Loopline knew then);
- *as of* T: the events that had happened in the world by T, leaving out corrections and
  what they cancel (a cancelled change never happened). An event recorded after another
  counts as happening no earlier than it, so the events kept are always a prefix of the
  item's life (a back-dated change cannot land before a change it followed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.feedback import live_events


def happened_at(event: Any) -> datetime:
    """When `event` happened in the world: its `*_at` field, else when it was recorded."""
    for name, value in vars(event).items():
        if name.endswith("_at") and isinstance(value, datetime):
            return value
    timestamp: datetime = event.timestamp
    return timestamp


def happened_by(events: Sequence[Any], when: datetime) -> list[Any]:
    """The events (of one aggregate, in version order) that had happened by `when`."""
    kept: list[Any] = []
    latest: datetime | None = None
    for e in live_events(events):
        at = happened_at(e)
        latest = at if latest is None else max(latest, at)
        if latest > when:
            break
        kept.append(e)
    return kept


def replay(events: Sequence[Any], *, skipping: bool = False) -> Any:
    """The aggregate the `events` build (None for none). With `skipping`, versions left out
    (cancelled by a correction) are stepped over; without, a missing version is an error."""
    aggregate: Any = None
    for e in events:
        if skipping and aggregate is not None:
            aggregate.version = e.originator_version - 1
        aggregate = e.mutate(aggregate)
    return aggregate
