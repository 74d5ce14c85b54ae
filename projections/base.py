"""What a projection is: a named, versioned set of read-model tables and the
handler that applies a batch of events to them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic

from infra.database import Connection

Positioned = tuple[int, CanMutateAggregate[Any]]
"""An event with its position (notification id) in the store."""


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
    handles: ClassVar[tuple[type[Any], ...]]
    """The event classes this projection applies; others are never read for it."""

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted(get_topic(cls) for cls in self.handles))

    @abstractmethod
    def schema_sql(self) -> str:
        """DDL creating this projection's tables (unqualified names)."""

    @abstractmethod
    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        """Apply a batch of events in order, inside the runner's transaction."""
