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

from infra.database import Connection

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


class ReadModelCache:
    """A small LRU of query results keyed by the read models' positions."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def get(
        self,
        conn: Connection,
        projections: Sequence[str],
        key: Hashable,
        compute: Callable[[], Awaitable[T]],
    ) -> T:
        stamp = tuple(tuple(r) for r in await conn.fetch(_STAMP, list(projections)))
        full = (key, stamp)
        if full in self._entries:
            self._entries.move_to_end(full)
            self.hits += 1
            result: T = self._entries[full]
            return result
        self.misses += 1
        value = await compute()
        self._entries[full] = value
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value
