"""What a projection is: a named, versioned set of read-model tables and the
handler that applies a batch of events to them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from infra.database import Connection

Positioned = tuple[int, Any]
"""An event with its position (notification id) in the store. Events are typed `Any`:
eventsourcing creates their classes from `@event` methods, so their fields are
dynamic."""


class Projection(ABC):
    """A read model. Subclasses set `name`, `version`, `tables`, `handles` and implement
    `schema_sql` and `apply`.

    Tables are created and written with unqualified names: the runner sets the
    search_path to the build's own schema. Queries read them as `read.<table>`.
    Bump `version` whenever `schema_sql` or the meaning of `apply` changes: the
    runner then rebuilds into new tables and switches when they have caught up.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    tables: ClassVar[tuple[str, ...]]
    topics: ClassVar[tuple[str, ...]]
    """The topics of the events this projection applies (see `events_of`); others are
    never read for it."""

    @abstractmethod
    def schema_sql(self) -> str:
        """DDL creating this projection's tables (unqualified names)."""

    def index_sql(self) -> str:
        """DDL for what queries need but `apply` does not: secondary indexes, and columns
        generated from a row's other columns (a search vector).

        The runner runs it once when a build has caught up, just before it switches to
        it: filling tables without them makes rebuilds several times faster, and a
        generated column added then is computed once per row, not at every write of it.
        `apply` must not read what this adds.

        Statements are separated by `;` (neither `;` nor `--` inside a literal). Those
        before the first unnamed `CREATE [UNIQUE] INDEX ON table ...` run once, in one
        transaction; the unnamed indexes that follow, several at once on connections of
        their own; the rest in one transaction (see `runner.IndexPlan`).
        """
        return ""

    @abstractmethod
    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        """Apply a batch of events in order, inside the runner's transaction."""

    async def stage(self, conn: Connection, events: Sequence[Positioned]) -> None:
        """Apply a batch while a build catches up, before `index_sql` ran: `apply` unless
        a projection does its work set-based once the build has caught up. Such a
        projection only keeps here what it needs, and the statements of `index_sql`
        before its first index (run once, just after the last staged batch) take it all
        in at once; from then on batches go to `apply`."""
        await self.apply(conn, events)


def events_of(aggregate: type[Any], *names: str) -> tuple[str, ...]:
    """Topics of `aggregate`'s nested event classes `names`; a misspelt name fails at import."""
    topics = []
    for name in names:
        cls = getattr(aggregate, name, None)
        if not isinstance(cls, type):
            raise AttributeError(f"{aggregate.__qualname__} has no event class {name}")
        topics.append(get_topic(cls))
    return tuple(topics)
