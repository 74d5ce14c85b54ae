"""Query results kept until the read models they summarise move on.

A metric over 100,000 feedback items costs tens of milliseconds; dashboards ask the same
questions again and again. An entry's key holds the tracking position (and build) of
every projection the query reads, looked up with one indexed query, so an entry can never
outlive the data it was computed from. Answers relative to now (open age, DORA up to now)
are computed as of the start of the current minute and kept for that minute only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from infra.database import Connection
from infra.noticed import NoticedCache
from infra.recorder import READ_MODELS_CHANNEL

T = TypeVar("T")

_STAMP = """
SELECT r.active_schema, coalesce(t.notification_id, 0)
FROM unnest($1::text[]) WITH ORDINALITY AS n(name, i)
LEFT JOIN projection_registry r ON r.name = n.name
LEFT JOIN notification_tracking t ON t.application_name = r.active_schema
ORDER BY n.i
"""


def this_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


class ReadModelCache(NoticedCache):
    """A small LRU of query results keyed by the read models' positions.

    While this process hears the read models' notices (`READ_MODELS_CHANNEL`, sent when a
    projection's transaction commits), a hit costs no database round trip: every notice
    starts a new generation and drops what was kept. Otherwise, and for read-your-writes
    requests (`fresh`), each request reads the projections' positions (one indexed query).
    """

    channel = READ_MODELS_CHANNEL

    def __init__(self, maxsize: int = 512) -> None:
        super().__init__()
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def get(
        self,
        pool: asyncpg.Pool,
        projections: Sequence[str],
        key: Hashable,
        compute: Callable[[Connection], Awaitable[T]],
        *,
        fresh: bool = False,
    ) -> T:
        if self.listening and not fresh:
            generation = self.generation
            found = self.kept(key, generation)
            if found is not None:
                hit: T = found
                return hit
            self.misses += 1
            async with pool.acquire() as conn:
                value = await compute(conn)
            self.keep(key, value, generation)
            return value
        async with pool.acquire() as conn:
            stamp = tuple(tuple(r) for r in await conn.fetch(_STAMP, list(projections)))
            full = (key, stamp)
            if full in self._entries:
                kept: T = self._hit(full)
                return kept
            self.misses += 1
            value = await compute(conn)
        return self._keep(full, value)

    def kept(self, key: Hashable, generation: int) -> Any | None:
        """What was kept under `key` during `generation`, if that is still the current
        generation and notices are heard; None otherwise."""
        full = (key, "generation", generation)
        if generation != self.generation or not self.listening or full not in self._entries:
            return None
        return self._hit(full)

    def keep(self, key: Hashable, value: Any, generation: int) -> None:
        """Keep `value`, looked up during `generation`, under `key`: only if no notice arrived
        meanwhile (it may predate the change the notice announced)."""
        if self.keepable(generation):
            self._keep((key, "generation", generation), value)

    def _hit(self, full: Hashable) -> Any:
        self._entries.move_to_end(full)
        self.hits += 1
        return self._entries[full]

    def _keep(self, full: Hashable, value: T) -> T:
        self._entries[full] = value
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value
